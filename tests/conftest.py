"""Shared fixtures: `server` runs Muralist on SQLite and, where reachable, PostgreSQL;
`llm` is a loopback OpenAI-compatible model fake."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_chat import FakeOpenAIChat
from tests.support import (
    RunningServer,
    drop_redis_prefix,
    make_settings,
    postgres_database,
    require_services,
    running_server,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL of each kind: SQLite in the data directory, or a fresh PostgreSQL DB."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'localmanus.db'}"
        return
    require_services(postgres=True)
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


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own (needs Redis); its keys are deleted afterwards."""
    require_services(redis=True)
    prefix = f"muralist-test-{uuid.uuid4().hex[:8]}"
    yield prefix
    await drop_redis_prefix(prefix)


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeOpenAIChat]:
    """One OpenAI-compatible fake per test module (starting a server per test is slow)."""
    with FakeOpenAIChat() as fake:
        yield fake


@pytest.fixture
def llm(llm_server: FakeOpenAIChat) -> FakeOpenAIChat:
    """The module's OpenAI-compatible fake, with no script and no recorded requests."""
    llm_server.reset()
    return llm_server
