"""`muralist worker`: a process that runs generation tasks from Redis and serves no HTTP.

It builds the same services as a server (store, config, tools, file store), but its Socket.IO
server only writes: `task_update`, `image_generated` and the rest go through Redis to the
servers, which deliver them to the browsers connected to any of them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import socketio

from muralist.services import Services, build_services
from muralist.settings import ServerSettings
from muralist.tasks import build_queue, running_tasks
from muralist.tasks.saq_queue import SaqTaskQueue

logger = logging.getLogger(__name__)


@dataclass
class RunningWorker:
    """A started worker: its services and its queue (`queue.owner` names it)."""

    services: Services
    queue: SaqTaskQueue


def write_only_socket_server(settings: ServerSettings) -> socketio.AsyncServer:
    """A Socket.IO server that serves nobody and emits through Redis to every server."""
    assert settings.redis_url
    manager = socketio.AsyncRedisManager(
        settings.redis_url, channel=f"{settings.redis_prefix}:socketio", write_only=True
    )
    return socketio.AsyncServer(async_mode="asgi", client_manager=manager)


@asynccontextmanager
async def task_worker(
    settings: ServerSettings, *, concurrency: int | None = None
) -> AsyncIterator[RunningWorker]:
    """Run tasks from Redis while the block runs; stop (handing running tasks back) after."""
    if not settings.redis_url:
        raise ValueError("muralist worker needs MURALIST_REDIS_URL (the scaled mode)")
    sio = write_only_socket_server(settings)
    services = await build_services(settings, sio)
    queue = build_queue(settings, worker=True, concurrency=concurrency)
    assert isinstance(queue, SaqTaskQueue)
    try:
        async with running_tasks(services, queue):
            logger.info("worker %s runs tasks", queue.owner)
            yield RunningWorker(services, queue)
    finally:
        await services.close()
        redis = getattr(sio.manager, "redis", None)
        if redis is not None:
            await redis.aclose()
