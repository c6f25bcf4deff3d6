"""The in-process task queue: one asyncio queue and a few workers per provider."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from muralist.tasks.queue import DEFAULT_LIMIT, DEFAULT_LIMITS, Runner, wait_for_run

logger = logging.getLogger(__name__)


class LocalTaskQueue:
    """Runs tasks in this process; at most `limits[provider]` at once per provider.

    Each provider has its own queue, so a slow provider never holds up another one.
    """

    recover_every_s: float | None = None

    def __init__(
        self, limits: Mapping[str, int] | None = None, default_limit: int = DEFAULT_LIMIT
    ) -> None:
        self._limits = {**DEFAULT_LIMITS, **(limits or {})}
        self._default = default_limit
        self._queues: dict[str, asyncio.Queue[str]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()
        self._dropped: set[str] = set()
        self._runner: Runner | None = None

    def limit(self, provider: str) -> int:
        """How many tasks of `provider` may run at once."""
        return max(1, self._limits.get(provider, self._default))

    async def start(self, runner: Runner) -> None:
        self._runner = runner

    async def enqueue(self, task_id: str, provider: str) -> None:
        if self._runner is None:
            raise RuntimeError("the task queue is not started")
        queue = self._queues.get(provider)
        if queue is None:
            queue = self._queues[provider] = asyncio.Queue()
            for index in range(self.limit(provider)):
                worker = asyncio.create_task(
                    self._work(queue), name=f"task-worker-{provider}-{index}"
                )
                self._workers.append(worker)
        queue.put_nowait(task_id)
        self._waiting.add(task_id)

    async def abort(self, task_id: str) -> None:
        running = self._running.get(task_id)
        if running is not None:
            running.cancel()
        else:
            # Still waiting in a queue: the worker that takes it skips it.
            self._dropped.add(task_id)

    async def unheld(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            task
            for task in tasks
            if task["id"] not in self._running and task["id"] not in self._waiting
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()
        self._queues.clear()
        self._waiting.clear()

    def running(self) -> list[str]:
        """Ids of the tasks running now."""
        return list(self._running)

    async def _work(self, queue: asyncio.Queue[str]) -> None:
        assert self._runner is not None
        while True:
            task_id = await queue.get()
            self._waiting.discard(task_id)
            if task_id in self._dropped:
                self._dropped.discard(task_id)
                continue
            run = asyncio.create_task(self._runner(task_id), name=f"task-{task_id}")
            self._running[task_id] = run
            try:
                await wait_for_run(run)
            finally:
                self._running.pop(task_id, None)
            if not run.cancelled() and run.exception() is not None:
                logger.error("task %s crashed", task_id, exc_info=run.exception())
