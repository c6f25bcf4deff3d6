"""The store on SQLite and PostgreSQL: migrations, constraints, concurrent canvas edits."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError

import muralist.store.db
from muralist.store import Store
from muralist.store.db import HEAD_REVISION, create_engine, run_alembic_upgrade


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


async def test_migrating_twice_keeps_data(database_url: str) -> None:
    first = await Store.open(database_url)
    await first.canvases.create("c1", "Kept")
    await first.close()
    second = await Store.open(database_url)
    try:
        assert (await second.canvases.get("c1"))["name"] == "Kept"
    finally:
        await second.close()


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(IntegrityError):
        await store.messages.add("no-such-session", {"role": "user", "content": "x"})
    with pytest.raises(IntegrityError):
        await store.sessions.create("s1", canvas_id="no-such-canvas")
    assert await store.sessions.count() == 0


async def test_message_update_replaces_in_place(store: Store) -> None:
    await store.canvases.create("c1", "C")
    await store.sessions.create("s1", canvas_id="c1")
    first = await store.messages.add("s1", {"role": "assistant", "content": "Hel"})
    await store.messages.add("s1", {"role": "user", "content": "next"})
    await store.messages.update(first, {"role": "assistant", "content": "Hello", "name": "planner"})
    assert await store.messages.list("s1") == [
        {"role": "assistant", "content": "Hello", "name": "planner"},
        {"role": "user", "content": "next"},
    ]


async def test_concurrent_edits_of_one_canvas_lose_nothing(store: Store) -> None:
    await store.canvases.create("c1", "C")

    async def add(element_id: int) -> None:
        async with store.canvases.edit("c1") as scene:
            elements = list(scene["elements"])
            await asyncio.sleep(0)  # let the others run while this edit is open
            scene["elements"] = [*elements, {"id": element_id}]

    await asyncio.gather(*(add(n) for n in range(20)))
    scene = (await store.canvases.get("c1"))["data"]
    assert sorted(e["id"] for e in scene["elements"]) == list(range(20))


async def test_edit_creates_a_missing_canvas(store: Store) -> None:
    async with store.canvases.edit("fresh") as scene:
        assert scene == {"elements": [], "files": {}, "appState": {}}
        scene["files"]["im_1"] = {"id": "im_1"}
    saved = await store.canvases.get("fresh")
    assert saved["data"]["files"] == {"im_1": {"id": "im_1"}}


async def test_two_processes_creating_one_canvas_lose_nothing(database_url: str) -> None:
    # Two stores stand for two server processes: their in-process canvas locks are separate,
    # so only the database keeps them from inserting the same new canvas twice.
    stores = [await Store.open(database_url), await Store.open(database_url)]
    try:

        async def add(store: Store, element_id: int) -> None:
            async with store.canvases.edit("born-twice") as scene:
                scene["elements"] = [*scene["elements"], {"id": element_id}]

        await asyncio.gather(*(add(stores[n % 2], n) for n in range(10)))
        scene = (await stores[0].canvases.get("born-twice"))["data"]
        assert sorted(e["id"] for e in scene["elements"]) == list(range(10))
    finally:
        for store in stores:
            await store.close()


async def test_tasks_round_trip_json_fields(store: Store) -> None:
    task = await store.tasks.create("t1", type="image", params={"prompt": "cat"}, tool="x")
    assert task["status"] == "queued" and task["params"] == {"prompt": "cat"}
    assert await store.tasks.update("t1", where_status=["queued"], status="running")
    assert not await store.tasks.update("t1", where_status=["queued"], status="failed")
    await store.tasks.update("t1", status="succeeded", results=["/api/file/a.png"], progress=100)
    found = await store.tasks.get_many(["t1", "nope"])
    assert list(found) == ["t1"]
    assert found["t1"]["results"] == ["/api/file/a.png"]
    assert [t["id"] for t in await store.tasks.list_by_status("succeeded")] == ["t1"]


def _schema(connection: Connection) -> dict:
    inspector = inspect(connection)
    return {
        table: (
            sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ),
            sorted(str(sorted(i["column_names"])) for i in inspector.get_indexes(table)),
            sorted(str(fk["referred_table"]) for fk in inspector.get_foreign_keys(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


async def test_fresh_schema_equals_the_migrated_one(tmp_path: Path) -> None:
    """A new database is created from the table definitions and stamped; it must match what
    the Alembic migrations build, and the stamped revision must be Alembic's head."""
    fresh = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    migrated_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")
    try:
        async with migrated_engine.begin() as conn:
            await conn.run_sync(run_alembic_upgrade)
        async with fresh.engine.connect() as a, migrated_engine.connect() as b:
            assert await a.run_sync(_schema) == await b.run_sync(_schema)
            stamped = (await a.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        script = ScriptDirectory(str(Path(muralist.store.db.__file__).parent / "migrations"))
        assert stamped == HEAD_REVISION == script.get_current_head()
        migrated = Store(migrated_engine)
        assert await migrated.sessions.list_all_json() == b"[]"
    finally:
        await fresh.close()
        await migrated_engine.dispose()


# Contract section 7: the tables and columns of a Jaaz database, so one can be imported.
JAAZ_COLUMNS = {
    "chat_sessions": {"id", "canvas_id", "created_at", "updated_at", "title", "model", "provider"},
    "chat_messages": {"id", "session_id", "role", "message", "created_at", "updated_at"},
    "canvases": {"id", "name", "data", "description", "thumbnail", "created_at", "updated_at"},
    "comfy_workflows": {
        "id",
        "name",
        "api_json",
        "description",
        "inputs",
        "outputs",
        "created_at",
        "updated_at",
    },
}


async def test_the_jaaz_tables_and_columns_are_there(store: Store) -> None:
    def columns(connection: Connection) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {t: {c["name"] for c in inspector.get_columns(t)} for t in JAAZ_COLUMNS}

    async with store.engine.connect() as conn:
        found = await conn.run_sync(columns)
    for table, wanted in JAAZ_COLUMNS.items():
        assert wanted <= found[table], table


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with store.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
            keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        assert (mode, keys) == ("wal", 1)
    finally:
        await store.close()
