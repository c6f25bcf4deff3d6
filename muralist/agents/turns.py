"""The registry of running turns (chat and magic share it): one turn per session, cancellable.

`TurnRegistry` covers one process. `RedisTurns` (turns_redis.py) extends it for several
processes on one Redis: claims, cancels and confirmation answers then reach the process that
runs the turn.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from muralist.errors import Conflict

logger = logging.getLogger(__name__)

# A cancelled turn gets this long to store what it said and send `done` before we answer.
CANCEL_WAIT_S = 1.0


def busy(session_id: str) -> Conflict:
    return Conflict(
        f"session_id: session {session_id!r} already has a turn running; "
        "wait for it to finish or cancel it"
    )


@dataclass
class _Turn:
    task: asyncio.Task[None] | None = None
    started: bool = False
    cancel_requested: bool = False


class TurnRegistry:
    """Which sessions have a turn running in this process, and the task running it."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    async def open(self) -> None:
        """Start whatever the registry needs (nothing in one process)."""

    async def close(self) -> None:
        """Cancel every running turn (server shutdown) and wait for them to end."""
        tasks = [t.task for t in self._turns.values() if t.task is not None and not t.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    def claim(self, session_id: str) -> None:
        """Claim the session in this process, or raise Conflict (409) while a turn runs."""
        if session_id in self._turns:
            raise busy(session_id)
        self._turns[session_id] = _Turn()

    async def reserve(self, session_id: str) -> None:
        """Claim the session for a new turn, or raise Conflict (409)."""
        self.claim(session_id)

    def start(self, session_id: str, task: asyncio.Task[None]) -> None:
        """Attach the task that will run the reserved turn."""
        self._turns.setdefault(session_id, _Turn()).task = task

    def begin(self, session_id: str) -> bool:
        """Called first thing by the turn's task: False when a cancel came before it ran.

        A task cancelled before its first step never runs its body (not even `finally`), so
        such a task is never cancelled: it learns of the cancel here and ends properly.
        """
        turn = self._turns.setdefault(session_id, _Turn())
        turn.started = True
        return not turn.cancel_requested

    async def release(self, session_id: str) -> None:
        """Forget the session's turn (called by the turn itself when it ends)."""
        self._turns.pop(session_id, None)

    def running(self, session_id: str) -> bool:
        """Whether this process runs a turn of the session."""
        return session_id in self._turns

    def __len__(self) -> int:
        return len(self._turns)

    async def cancel(self, session_id: str) -> bool:
        """Cancel the session's turn; True when one was running. Waits briefly for its end."""
        turn = self._turns.get(session_id)
        if turn is None or turn.cancel_requested:
            return False
        turn.cancel_requested = True
        task = turn.task
        if task is None:
            return True
        if task.done():
            return False
        if turn.started:
            task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
        if not task.done():
            logger.warning(
                "turn of session %s did not stop within %.1f s", session_id, CANCEL_WAIT_S
            )
        return True

    # Confirmations answered on another process (no-ops here) -------------------------------

    async def mark_pending(self, session_id: str, tool_call_id: str, ttl_s: float) -> None:
        """Note that a confirmation waits here."""

    async def unmark_pending(self, session_id: str, tool_call_id: str) -> None:
        """The confirmation no longer waits."""

    async def relay_confirmation(self, session_id: str, tool_call_id: str, confirmed: bool) -> bool:
        """Hand an answer to the process whose turn waits for it; False when none does."""
        return False
