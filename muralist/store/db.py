"""Engine creation and schema migration for SQLite (default) and PostgreSQL."""

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from muralist.store.tables import change_counters, metadata

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"

# The newest migration in migrations/versions; a test checks it against Alembic's own view.
HEAD_REVISION = "0001"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside a writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine for `url`; SQLite gets WAL and enforced foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _create_fresh(connection: Connection) -> None:
    """An empty database gets the newest schema at once, stamped as migrated."""
    metadata.create_all(connection)
    connection.execute(change_counters.insert().values(name="sessions", version=0))
    connection.execute(
        text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
            " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(
        text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": HEAD_REVISION}
    )


def run_alembic_upgrade(connection: Connection) -> None:
    """Apply pending Alembic migrations on `connection`."""
    # Alembic is imported only when a database is behind: it costs ~0.2 s at start-up.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _migrate(connection: Connection) -> None:
    revision = _current_revision(connection)
    if revision == HEAD_REVISION:
        return
    if revision is None and not inspect(connection).get_table_names():
        _create_fresh(connection)
        log.info("created a new database schema (revision %s)", HEAD_REVISION)
        return
    run_alembic_upgrade(connection)
    log.info("migrated the database from revision %s to %s", revision, HEAD_REVISION)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(_migrate)
