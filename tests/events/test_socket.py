"""Socket.IO delivery: rooms for clients that join, everything for the stock UI, replay."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import socketio

import muralist.events.log
from tests.support import RunningServer


class Listener:
    """A Socket.IO client that queues every event it receives, by event name."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.queues: dict[str, asyncio.Queue[Any]] = {}
        for name in ("connected", "pong", "message", "session_update", "init_done"):
            self.sio.on(name, self._collector(name))

    def _collector(self, name: str) -> Any:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.queues[name] = queue

        async def collect(data: Any = None) -> None:
            await queue.put(data)

        return collect

    async def next(self, name: str) -> Any:
        return await asyncio.wait_for(self.queues[name].get(), 10)

    def pending(self, name: str) -> list[Any]:
        queue, items = self.queues[name], []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items


@asynccontextmanager
async def listener(server: RunningServer) -> AsyncIterator[Listener]:
    client = Listener()
    await client.sio.connect(server.url, transports=["websocket"])
    try:
        yield client
    finally:
        await client.sio.disconnect()


async def _barrier(*clients: Listener) -> None:
    """Round-trip a ping on each client, so everything sent before has arrived."""
    for client in clients:
        await client.sio.emit("ping", "barrier")
        assert await client.next("pong") == "barrier"


async def test_connected_and_ping(sqlite_server: RunningServer) -> None:
    async with listener(sqlite_server) as client:
        assert await client.next("connected") == {"status": "connected"}
        await client.sio.emit("ping", {"n": 1})
        assert await client.next("pong") == {"n": 1}


async def test_joined_client_gets_only_its_session(sqlite_server: RunningServer) -> None:
    events = sqlite_server.services.events
    async with listener(sqlite_server) as mine, listener(sqlite_server) as stock:
        ack = await mine.sio.call("join", {"session_id": "s1"})
        assert ack == {"ok": True, "room": "session:s1", "replayed": 0}

        await events.session("s1", "delta", text="Hello")
        await events.session("s2", "delta", text="Other")
        await _barrier(mine, stock)

        got = mine.pending("message")
        assert [(e["session_id"], e["text"]) for e in got] == [("s1", "Hello")]
        assert got[0] == {
            "canvas_id": None,
            "session_id": "s1",
            "type": "delta",
            "seq": 1,
            "text": "Hello",
        }
        assert mine.pending("session_update") == []

        # The stock Jaaz UI never joins: it sees every session, as session_update.
        seen = stock.pending("session_update")
        assert [(e["session_id"], e["type"]) for e in seen] == [("s1", "delta"), ("s2", "delta")]
        assert seen[0] == got[0]  # the same payload, `seq` included
        assert stock.pending("message") == []


async def test_canvas_and_task_rooms(sqlite_server: RunningServer) -> None:
    events = sqlite_server.services.events
    async with listener(sqlite_server) as canvas_watcher, listener(sqlite_server) as task_watcher:
        await canvas_watcher.sio.call("join", {"canvas_id": "c1"})
        await task_watcher.sio.call("join", {"task_id": "t1"})

        await events.session("s9", "image_generated", canvas_id="c1", image_url="/api/file/a.png")
        await events.session("s9", "image_generated", canvas_id="c2", image_url="/api/file/b.png")
        await events.task("t1", {"status": "running", "progress": 40})
        await events.task("t2", {"status": "running", "progress": 10})
        await _barrier(canvas_watcher, task_watcher)

        placed = canvas_watcher.pending("message")
        assert [e["image_url"] for e in placed] == ["/api/file/a.png"]
        assert task_watcher.pending("message") == [
            {"status": "running", "progress": 40, "type": "task_update", "task_id": "t1"}
        ]


async def test_leave_stops_delivery(sqlite_server: RunningServer) -> None:
    events = sqlite_server.services.events
    async with listener(sqlite_server) as client:
        await client.sio.call("join", {"session_id": "s1"})
        assert (await client.sio.call("leave", {"session_id": "s1"}))["ok"] is True
        await events.session("s1", "delta", text="after leave")
        await _barrier(client)
        assert client.pending("message") == []


async def test_reconnect_with_since_replays_what_was_missed(sqlite_server: RunningServer) -> None:
    events = sqlite_server.services.events
    async with listener(sqlite_server) as first:
        await first.sio.call("join", {"session_id": "s1"})
        await events.session("s1", "delta", text="one")
        await events.session("s1", "delta", text="two")
        await _barrier(first)
        last_seen = first.pending("message")[-1]["seq"]
    assert last_seen == 2

    # While nobody listens, the turn goes on.
    await events.session("s1", "delta", text="three")
    await events.session("s1", "done")

    async with listener(sqlite_server) as again:
        ack = await again.sio.call("join", {"session_id": "s1", "since": last_seen})
        assert ack["replayed"] == 2
        replayed = again.pending("message")
        assert [(e["seq"], e["type"]) for e in replayed] == [(3, "delta"), (4, "done")]
        assert replayed[0]["text"] == "three"


async def test_the_replay_log_keeps_the_last_events_of_a_session(
    sqlite_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(muralist.events.log, "EVENTS_PER_SESSION", 3)
    events = sqlite_server.services.events
    for n in range(5):
        await events.session("s-long", "delta", text=str(n))
    async with listener(sqlite_server) as late:
        ack = await late.sio.call("join", {"session_id": "s-long", "since": 0})
        assert ack["replayed"] == 3
        assert [e["seq"] for e in late.pending("message")] == [3, 4, 5]


async def test_bad_join_payloads_are_answered_not_crashed(sqlite_server: RunningServer) -> None:
    async with listener(sqlite_server) as client:
        for payload in (
            None,
            "s1",
            {},
            {"session_id": ""},
            {"session_id": "a", "canvas_id": "b"},
            {"session_id": "a", "since": -1},
            {"session_id": 5},
        ):
            ack = await client.sio.call("join", payload)
            assert ack["ok"] is False and ack["error"], payload
        assert (await client.sio.call("join", {"session_id": "fine"}))["ok"] is True
