"""The Socket.IO server and its client events: ping, join and leave."""

import logging
from typing import Any

import socketio

from muralist.events.hub import (
    UNJOINED_ROOM,
    EventHub,
    canvas_room,
    session_room,
    task_room,
)

log = logging.getLogger(__name__)

_ROOM_KINDS = {"session_id": session_room, "canvas_id": canvas_room, "task_id": task_room}


def create_socket_server(
    redis_url: str | None = None, redis_prefix: str = "muralist"
) -> socketio.AsyncServer:
    """An ASGI Socket.IO server; with `redis_url` its rooms span every process on that Redis.

    Origin, Host and token checks happen in the ASGI security layer in front of it, so
    the engine's own CORS check is left open here.
    """
    manager = (
        socketio.AsyncRedisManager(redis_url, channel=f"{redis_prefix}:socketio")
        if redis_url
        else None
    )
    return socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins="*",
        client_manager=manager,
        ping_interval=25,
        max_http_buffer_size=1_000_000,
    )


def _room_for(data: Any) -> tuple[str, str, int | None] | str:
    """(key, room, since) for a join/leave payload, or an error message."""
    if not isinstance(data, dict):
        return "join payload must be an object with session_id, canvas_id or task_id"
    keys = [key for key in _ROOM_KINDS if key in data]
    if len(keys) != 1:
        return "give exactly one of session_id, canvas_id, task_id"
    key = keys[0]
    value = data[key]
    if not isinstance(value, str) or not value or len(value) > 200:
        return f"{key}: must be a non-empty string"
    since = data.get("since")
    if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
        return "since: must be a non-negative integer"
    return key, _ROOM_KINDS[key](value), since


def register_handlers(sio: socketio.AsyncServer, hub: EventHub) -> None:
    """Attach connect, ping, join and leave handlers."""

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, UNJOINED_ROOM)
        await sio.emit("connected", {"status": "connected"}, to=sid)
        log.debug("socket %s connected", sid)

    @sio.event
    async def disconnect(sid: str, *args: Any) -> None:
        log.debug("socket %s disconnected", sid)

    @sio.event
    async def ping(sid: str, data: Any = None) -> None:
        await sio.emit("pong", data, to=sid)

    @sio.event
    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        parsed = _room_for(data)
        if isinstance(parsed, str):
            return {"ok": False, "error": parsed}
        key, room, since = parsed
        # Enter before reading the log: an event racing the join may then arrive twice
        # (clients drop repeated seq numbers) but can never be missed.
        await sio.leave_room(sid, UNJOINED_ROOM)
        await sio.enter_room(sid, room)
        replayed = 0
        if key == "session_id" and since is not None:
            for event in await hub.missed(data["session_id"], since):
                await sio.emit("message", event, to=sid)
                replayed += 1
        return {"ok": True, "room": room, "replayed": replayed}

    @sio.event
    async def leave(sid: str, data: Any = None) -> dict[str, Any]:
        parsed = _room_for(data)
        if isinstance(parsed, str):
            return {"ok": False, "error": parsed}
        await sio.leave_room(sid, parsed[1])
        return {"ok": True, "room": parsed[1]}
