"""Group task rows created at about the same time into one insert.

Every create waits for its own row to be committed, so a 202 still means "stored"; rows that
arrive while an insert is running go together into the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

InsertMany = Callable[[list[dict[str, Any]]], Awaitable[None]]
MAX_BATCH = 500


class InsertBatcher:
    """Feeds rows to `insert_many`, at most `max_batch` per call, one call at a time."""

    def __init__(self, insert_many: InsertMany, max_batch: int = MAX_BATCH) -> None:
        self._insert_many = insert_many
        self._max = max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def add(self, row: dict[str, Any]) -> None:
        """Return once `row` is committed; raise what the insert raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max], self._pending[self._max :]
            try:
                await self._insert_many([row for row, _ in batch])
            except Exception as exc:  # every waiting create gets the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
