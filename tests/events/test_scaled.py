"""Scaled mode: two server processes' worth of apps on one PostgreSQL and one Redis."""

from pathlib import Path

import pytest

from tests.events.test_socket import listener
from tests.support import (
    REDIS_URL,
    make_settings,
    postgres_database,
    require_services,
    running_server,
)


@pytest.mark.postgres
async def test_an_event_on_one_server_reaches_a_socket_on_another(
    tmp_path: Path, redis_prefix: str
) -> None:
    require_services(postgres=True)
    prefix = redis_prefix
    async with postgres_database() as url:
        shared = {"database_url": url, "redis_url": REDIS_URL, "redis_prefix": prefix}
        settings_a = make_settings(tmp_path / "a", **shared)
        settings_b = make_settings(tmp_path / "b", **shared)
        async with running_server(settings_a) as a, running_server(settings_b) as b:
            # Records are shared: a canvas made through A is listed by B.
            await a.client.post("/api/canvas/create", json={"name": "Shared", "canvas_id": "c1"})
            assert [c["id"] for c in (await b.client.get("/api/canvas/list")).json()] == ["c1"]

            async with listener(b) as watcher, listener(b) as stock:
                await watcher.sio.call("join", {"session_id": "s1"})
                await a.services.events.session("s1", "delta", text="from A")
                got = await watcher.next("message")
                assert (got["session_id"], got["text"]) == ("s1", "from A")
                seen = await stock.next("session_update")
                assert seen["text"] == "from A"

            # Sequence numbers and the replay log are shared: a client reconnecting to B
            # catches up on what A sent while it was away.
            assert await b.services.events.session("s1", "delta", text="from B") == 2
            await a.services.events.session("s1", "done")
            async with listener(b) as returning:
                ack = await returning.sio.call("join", {"session_id": "s1", "since": 1})
                assert ack["replayed"] == 2
                replayed = [await returning.next("message") for _ in range(2)]
                assert [(e["seq"], e["type"]) for e in replayed] == [(2, "delta"), (3, "done")]
