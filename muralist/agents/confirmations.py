"""Tool confirmations (contract section 5): a flagged tool waits for the user's answer."""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0


class ToolConfirmations:
    """Pending confirmation requests, keyed by session and tool call; finished ones are purged."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[tuple[str, str], asyncio.Future[bool]] = {}

    async def wait(self, session_id: str, tool_call_id: str) -> bool | None:
        """Wait for the user's answer: True or False, or None when the timeout passes."""
        key = (session_id, tool_call_id)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            logger.info("confirmation of %s timed out after %.0f s", tool_call_id, self.timeout_s)
            return None
        finally:
            # Purged whatever happened, so a late click gets "not found" instead of success.
            if self._pending.get(key) is future:
                del self._pending[key]

    def resolve(self, session_id: str, tool_call_id: str, confirmed: bool) -> bool:
        """Deliver the user's answer; False when nothing is waiting for it."""
        future = self._pending.get((session_id, tool_call_id))
        if future is None or future.done():
            return False
        future.set_result(confirmed)
        return True

    def __len__(self) -> int:
        return len(self._pending)
