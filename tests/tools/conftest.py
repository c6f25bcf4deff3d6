"""Fixtures of the tool tests: the provider fakes (once per session) and a server using them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support import RunningServer
from tests.tools.helpers import Fakes, all_fakes, configured_server


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    with all_fakes() as started:
        yield started


@pytest.fixture
async def tool_server(tmp_path: Path, fakes: Fakes) -> AsyncIterator[RunningServer]:
    async with configured_server(tmp_path, fakes) as server:
        yield server
