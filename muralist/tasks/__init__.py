"""Generation tasks of the V1 API: the task service, its queue interface and implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from muralist.tasks.local import LocalTaskQueue
from muralist.tasks.queue import TaskQueue
from muralist.tasks.service import TaskService

if TYPE_CHECKING:
    from muralist.services import Services
    from muralist.settings import ServerSettings


def build_queue(
    settings: ServerSettings, *, worker: bool = False, concurrency: int | None = None
) -> TaskQueue:
    """The local queue, or with MURALIST_REDIS_URL the SAQ one (a `worker` always runs tasks;
    a server runs them unless MURALIST_RUN_TASKS is false)."""
    if not settings.redis_url:
        return LocalTaskQueue()
    # SAQ (and its scheduler dependencies) load only in the scaled mode.
    from muralist.tasks.saq_queue import SaqTaskQueue

    return SaqTaskQueue(
        settings.redis_url,
        settings.redis_prefix,
        run_tasks=worker or settings.run_tasks,
        concurrency=concurrency,
        heartbeat_s=settings.task_heartbeat_s,
    )


@asynccontextmanager
async def attach_tasks(services: Services) -> AsyncIterator[None]:
    """Start the task service at start-up (as `services.tasks`) and stop it at shutdown."""
    async with running_tasks(services, build_queue(services.settings)):
        yield


@asynccontextmanager
async def running_tasks(services: Services, queue: TaskQueue) -> AsyncIterator[TaskService]:
    """A started task service on `queue`, set as `services.tasks` while the block runs."""
    service = TaskService(services, queue)
    services.tasks = service
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        services.tasks = None


__all__ = [
    "LocalTaskQueue",
    "TaskQueue",
    "TaskService",
    "attach_tasks",
    "build_queue",
    "running_tasks",
]
