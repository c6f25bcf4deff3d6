"""The store on SQLite and PostgreSQL: migrations, constraints, concurrent canvas edits."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import IntegrityError

from muralist.store import Store


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
