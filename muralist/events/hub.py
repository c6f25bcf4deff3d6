"""EventHub: typed updates for sessions, canvases and tasks, with a replay log per session."""

import logging
from typing import Any

import socketio

from muralist.events.log import EventLog, MemoryEventLog

log = logging.getLogger(__name__)

# Sockets that never sent `join` (the stock Jaaz UI) sit in this room and get every
# session's updates as `session_update`, which is the only delivery that UI understands.
UNJOINED_ROOM = "_unjoined"


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


def canvas_room(canvas_id: str) -> str:
    return f"canvas:{canvas_id}"


def task_room(task_id: str) -> str:
    return f"task:{task_id}"


class EventHub:
    """Emits updates; the log keeps recent session events so a reconnect can catch up."""

    def __init__(self, sio: socketio.AsyncServer, event_log: EventLog | None = None) -> None:
        self._sio = sio
        self._log = event_log or MemoryEventLog()

    async def session(
        self, session_id: str, type: str, *, canvas_id: str | None = None, **fields: Any
    ) -> int:
        """Send a `session_update` of `type`; returns its sequence number in the session."""
        payload = {"canvas_id": canvas_id, "session_id": session_id, "type": type, **fields}
        seq = await self._log.append(session_id, payload)
        rooms = [session_room(session_id)]
        if canvas_id:
            rooms.append(canvas_room(canvas_id))
        await self._sio.emit("message", payload, room=rooms)
        await self._sio.emit("session_update", payload, room=UNJOINED_ROOM)
        return seq

    async def error(self, session_id: str, message: str) -> int:
        """Report a failure to the session's watchers as an `error` update."""
        return await self.session(session_id, "error", error=message)

    async def task(self, task_id: str, fields: dict[str, Any]) -> None:
        """Send a `task_update` with the task's fields to the room `task:<id>`."""
        payload = {**fields, "type": "task_update", "task_id": task_id}
        await self._sio.emit("message", payload, room=task_room(task_id))

    async def broadcast(self, event: str, data: Any) -> None:
        await self._sio.emit(event, data)

    async def missed(self, session_id: str, since: int) -> list[dict[str, Any]]:
        """Logged events of a session with `seq` greater than `since`, oldest first."""
        return await self._log.since(session_id, since)

    async def close(self) -> None:
        await self._log.close()
