"""Fixtures for the agent tests: loopback language-model fakes and a model factory."""

from collections.abc import AsyncIterator, Iterator

import pytest

from muralist.agents.models import ModelFactory
from tests.fakes.anthropic_messages import FakeAnthropic


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def anthropic_fake(anthropic_server: FakeAnthropic) -> FakeAnthropic:
    anthropic_server.reset()
    return anthropic_server


@pytest.fixture
async def factory() -> AsyncIterator[ModelFactory]:
    built = ModelFactory()
    yield built
    await built.aclose()
