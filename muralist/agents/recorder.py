"""The turn recorder: stores each complete message and sends each event of a turn, in order.

Events leave through an outbox drained by a sender task, so emitting never slows the model
stream. While events wait in the outbox (the model streams faster than the server hands
events to Socket.IO, as with a burst of small chunks read at once), text deltas (and argument
fragments of the same tool call) are merged and a newer `all_messages` replaces an older one:
clients get fewer, larger updates with the same content, and the UI appends text either way.
Socket.IO's own per-client queue is not bounded here: a client that reads slowly is sent
every event that left the outbox.

A long answer is also checkpointed while it streams (about once a second), so a crash keeps
what was said so far; the final message then replaces the checkpoint row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from muralist.agents.events import AllMessages, Message, MessageCompleted, TextDelta, TurnEvent

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

CHECKPOINT_S = 1.0
_APPENDABLE = {"delta": None, "tool_call_arguments": "id"}


class TurnRecorder:
    """The runner's sink for one session: socket events out, complete messages into the store."""

    def __init__(
        self,
        services: Services,
        session_id: str,
        partial: Callable[[], Message | None] = lambda: None,
    ) -> None:
        self._events = services.events
        self._messages = services.store.messages
        self._session_id = session_id
        self.partial = partial
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._partial_row: int | None = None
        self._streaming_since: float | None = None
        self._last_checkpoint = 0.0
        self._writing: asyncio.Task[Any] | None = None

    async def __call__(self, event: TurnEvent) -> None:
        if isinstance(event, MessageCompleted):
            await self._store(event.message)
            # A barrier: what tools emit next (image_generated...) never overtakes this step.
            await self.flush()
            return
        if isinstance(event, TextDelta):
            await self._maybe_checkpoint()
        self.send(event.type, **event.fields())

    # Sending --------------------------------------------------------------------------

    def send(self, kind: str, **fields: Any) -> None:
        """Queue a `session_update` of `kind` behind the events already queued."""
        if self._outbox and self._merged(kind, fields):
            return
        self._outbox.append((kind, fields))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._drain())

    def _merged(self, kind: str, fields: dict[str, Any]) -> bool:
        last_kind, last = self._outbox[-1]
        if kind != last_kind:
            return False
        if kind == "all_messages":
            last["messages"] = fields["messages"]
            return True
        if kind in _APPENDABLE:
            key = _APPENDABLE[kind]
            if key is None or last.get(key) == fields.get(key):
                last["text"] = last["text"] + fields["text"]
                return True
        return False

    async def _drain(self) -> None:
        while self._outbox:
            kind, fields = self._outbox.popleft()
            try:
                await self._events.session(self._session_id, kind, **fields)
            except Exception:  # one lost update must not stop the rest of the turn's updates
                logger.warning(
                    "sending %s of session %s failed", kind, self._session_id, exc_info=True
                )

    async def flush(self) -> None:
        """Wait until every queued event has been handed to the socket server."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    async def all_messages(self, messages: list[Message]) -> None:
        """Send the whole conversation."""
        await self(AllMessages(list(messages)))

    # Storing --------------------------------------------------------------------------

    async def keep(self, messages: list[Message]) -> None:
        """Store what an interrupted turn leaves behind (after any write in flight)."""
        if self._writing is not None and not self._writing.done():
            await asyncio.wait({self._writing})
        for message in messages:
            await self._store(message)

    async def _store(self, message: Message) -> None:
        if message.get("role") == "assistant" and self._partial_row is not None:
            row, self._partial_row = self._partial_row, None
            await self._write(self._messages.update(row, message))
        else:
            await self._write(self._messages.add(self._session_id, message))
        self._streaming_since = None

    async def _maybe_checkpoint(self) -> None:
        now = time.monotonic()
        if self._streaming_since is None:
            self._streaming_since = self._last_checkpoint = now
            return
        if now - self._last_checkpoint < CHECKPOINT_S:
            return
        self._last_checkpoint = now
        message = self.partial()
        if message is None:
            return
        if self._partial_row is None:
            self._partial_row = await self._write(self._messages.add(self._session_id, message))
        else:
            await self._write(self._messages.update(self._partial_row, message))

    async def _write(self, write: Coroutine[Any, Any, Any]) -> Any:
        # A cancel must not tear a database write in half: the write finishes on its own and
        # the turn's cancel handler waits for it (keep) before storing what is left.
        self._writing = asyncio.ensure_future(write)
        return await asyncio.shield(self._writing)
