"""The queue interface the task service runs on.

The local implementation (`LocalTaskQueue`) is an asyncio worker pool inside the server
process. The scaled mode's (`SaqTaskQueue`, saq_queue.py) is SAQ on Redis, shared by every
server and `muralist worker` process. Both offer: `start` with the function that runs one task
by id, `enqueue` a task id under its provider (the unit of concurrency limits), `abort` a
queued or running task, `unheld` (which stored tasks no live process holds, for recovery),
`stop`.

A queue delivers a task to its runner again only once the run that held it is over (its
process stopped or died): the runner may treat a task it finds `running` as abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

Runner = Callable[[str], Coroutine[Any, Any, None]]

# Providers whose limit is not listed run this many tasks at once.
DEFAULT_LIMIT = 4
# A local ComfyUI renders one prompt at a time anyway; paid clouds accept a few in parallel.
DEFAULT_LIMITS = {"comfyui": 1}


class TaskQueue(Protocol):
    """Where task ids wait for a worker; the task rows themselves live in the store."""

    # Seconds between the task service's recovery passes while the queue runs; None means
    # one pass at start (a single process owns every task).
    recover_every_s: float | None

    async def start(self, runner: Runner) -> None:
        """Begin running enqueued tasks with `runner(task_id)`."""

    async def enqueue(self, task_id: str, provider: str) -> None:
        """Queue a stored task; it runs when `provider` has a free slot."""

    async def abort(self, task_id: str) -> None:
        """Drop a queued task or cancel a running one (the caller already updated its row)."""

    async def unheld(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Of these stored tasks (queued or running), those no live process runs and no queue
        will deliver: recovery may fail, re-queue or enqueue them."""

    async def stop(self) -> None:
        """Cancel running tasks and stop the workers."""


async def wait_for_run(run: asyncio.Task[None]) -> None:
    """Wait until `run` ends; its own outcome is not raised (read it from the task).

    If the waiter is cancelled (a shutdown, an abort), the run is cancelled too and awaited
    before the cancellation goes on, so a run never outlives the worker that started it.
    """
    try:
        await asyncio.wait([run])
    except asyncio.CancelledError:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        raise
