"""The queue interface the task service runs on.

The local implementation (`LocalTaskQueue`) is an asyncio worker pool inside the server
process. The scaled mode's distributed implementation (SAQ on Redis, worker processes) fits
the same four calls: `start` with the function that runs one task by id, `enqueue` a task id
under its provider (the unit of concurrency limits), `abort` a queued or running task, `stop`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Runner = Callable[[str], Awaitable[None]]

# Providers whose limit is not listed run this many tasks at once.
DEFAULT_LIMIT = 4
# A local ComfyUI renders one prompt at a time anyway; paid clouds accept a few in parallel.
DEFAULT_LIMITS = {"comfyui": 1}


class TaskQueue(Protocol):
    """Where task ids wait for a worker; the task rows themselves live in the store."""

    async def start(self, runner: Runner) -> None:
        """Begin running enqueued tasks with `runner(task_id)`."""

    async def enqueue(self, task_id: str, provider: str) -> None:
        """Queue a stored task; it runs when `provider` has a free slot."""

    async def abort(self, task_id: str) -> None:
        """Drop a queued task or cancel a running one (the caller already updated its row)."""

    async def stop(self) -> None:
        """Cancel running tasks and stop the workers."""
