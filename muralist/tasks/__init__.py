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


@asynccontextmanager
async def attach_tasks(services: Services) -> AsyncIterator[None]:
    """Start the task service at start-up (as `services.tasks`) and stop it at shutdown."""
    # TODO(#4): the scaled mode (MURALIST_REDIS_URL) gets a SAQ queue behind the same interface.
    service = TaskService(services, LocalTaskQueue())
    services.tasks = service
    await service.start()
    try:
        yield
    finally:
        await service.stop()
        services.tasks = None


__all__ = ["LocalTaskQueue", "TaskQueue", "TaskService", "attach_tasks"]
