"""The turn recorder: stores each complete message and sends each event of a turn.

A long answer is also checkpointed while it streams (about once a second), so a crash keeps
what was said so far; the final message then replaces the checkpoint row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from muralist.agents.events import AllMessages, Message, MessageCompleted, TextDelta, TurnEvent

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

CHECKPOINT_S = 1.0


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
        self._partial_row: int | None = None
        self._streaming_since: float | None = None
        self._last_checkpoint = 0.0
        self._writing: asyncio.Task[Any] | None = None

    async def __call__(self, event: TurnEvent) -> None:
        if isinstance(event, MessageCompleted):
            await self._store(event.message)
            return
        if isinstance(event, TextDelta):
            await self._maybe_checkpoint()
        fields = event.fields()
        await self._events.session(self._session_id, event.type, **fields)

    async def all_messages(self, messages: list[Message]) -> None:
        """Send the whole conversation."""
        await self(AllMessages(list(messages)))

    async def keep(self, messages: list[Message]) -> None:
        """Store what an interrupted turn leaves behind (after any write in flight)."""
        await self.settle()
        for message in messages:
            await self._store(message)

    async def settle(self) -> None:
        """Wait for a store write that a cancel interrupted."""
        if self._writing is not None and not self._writing.done():
            await asyncio.wait({self._writing})

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
        # the turn's cancel handler waits for it (settle) before storing what is left.
        self._writing = asyncio.ensure_future(write)
        return await asyncio.shield(self._writing)
