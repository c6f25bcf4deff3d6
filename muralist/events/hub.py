"""EventHub: typed updates for sessions, canvases and tasks, with a replay log per session."""

import logging
from collections import OrderedDict, deque
from typing import Any

import socketio

log = logging.getLogger(__name__)

# Sockets that never sent `join` (the stock Jaaz UI) sit in this room and get every
# session's updates as `session_update`, which is the only delivery that UI understands.
UNJOINED_ROOM = "_unjoined"
LOG_EVENTS_PER_SESSION = 1000
LOG_SESSIONS = 2000


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


def canvas_room(canvas_id: str) -> str:
    return f"canvas:{canvas_id}"


def task_room(task_id: str) -> str:
    return f"task:{task_id}"


class _SessionLog:
    __slots__ = ("seq", "events")

    def __init__(self) -> None:
        self.seq = 0
        self.events: deque[dict[str, Any]] = deque(maxlen=LOG_EVENTS_PER_SESSION)


class EventHub:
    """Emits updates; keeps the last events of recent sessions so a reconnect can catch up."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio
        self._logs: OrderedDict[str, _SessionLog] = OrderedDict()

    def _log_for(self, session_id: str) -> _SessionLog:
        entry = self._logs.get(session_id)
        if entry is None:
            entry = self._logs[session_id] = _SessionLog()
            while len(self._logs) > LOG_SESSIONS:
                self._logs.popitem(last=False)
        else:
            self._logs.move_to_end(session_id)
        return entry

    async def session(
        self, session_id: str, type: str, *, canvas_id: str | None = None, **fields: Any
    ) -> int:
        """Send a `session_update` of `type`; returns its sequence number in the session."""
        entry = self._log_for(session_id)
        entry.seq += 1
        payload = {
            "canvas_id": canvas_id,
            "session_id": session_id,
            "type": type,
            "seq": entry.seq,
            **fields,
        }
        entry.events.append(payload)
        rooms = [session_room(session_id)]
        if canvas_id:
            rooms.append(canvas_room(canvas_id))
        await self._sio.emit("message", payload, room=rooms)
        await self._sio.emit("session_update", payload, room=UNJOINED_ROOM)
        return entry.seq

    async def error(self, session_id: str, message: str) -> int:
        """Report a failure to the session's watchers as an `error` update."""
        return await self.session(session_id, "error", error=message)

    async def task(self, task_id: str, fields: dict[str, Any]) -> None:
        """Send a `task_update` with the task's fields to the room `task:<id>`."""
        payload = {**fields, "type": "task_update", "task_id": task_id}
        await self._sio.emit("message", payload, room=task_room(task_id))

    async def broadcast(self, event: str, data: Any) -> None:
        await self._sio.emit(event, data)

    def missed(self, session_id: str, since: int) -> list[dict[str, Any]]:
        """Logged events of a session with `seq` greater than `since`, oldest first."""
        entry = self._logs.get(session_id)
        if entry is None:
            return []
        return [event for event in entry.events if event["seq"] > since]
