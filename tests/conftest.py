"""Shared fixtures: `server` runs Muralist on SQLite and, where reachable, PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import (
    RunningServer,
    make_settings,
    postgres_database,
    postgres_reachable,
    running_server,
)


def _require_postgres() -> None:
    if not postgres_reachable():
        import os

        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432, and CI must reach it")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL of each kind: SQLite in the data directory, or a fresh PostgreSQL DB."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'localmanus.db'}"
        return
    _require_postgres()
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def server(tmp_path: Path, database_url: str) -> AsyncIterator[RunningServer]:
    """A running server on a fresh data directory, once per database kind."""
    settings = make_settings(tmp_path / "data", database_url=database_url)
    async with running_server(settings) as running:
        yield running


@pytest.fixture
async def sqlite_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A running server on SQLite only (for tests whose subject is not storage)."""
    async with running_server(make_settings(tmp_path / "data")) as running:
        yield running
