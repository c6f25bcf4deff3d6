"""Attaches the chat service at start-up without putting the agent library on that path.

Importing the language-model libraries takes about 1.7 s of CPU, longer than the rest of the
server's start. The chat service is therefore loaded in a worker thread, shortly after the
server is up: started at once, that thread holds the interpreter lock for much of the time
the server needs to answer its first requests (about 0.1 s later on two cores). A chat request
that arrives before the service is ready starts the load itself and waits for it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING

from muralist.errors import Unavailable

if TYPE_CHECKING:
    from muralist.agents.service import ChatService
    from muralist.services import Services

logger = logging.getLogger(__name__)

_LOADER = "chat_loader"
# How long after start-up the chat service starts loading when no chat request asks first.
WARM_UP_DELAY_S = 0.5


class ChatLoader:
    """Loads the chat service once, on demand or after the warm-up delay."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        """Begin loading (once); the task ends when `services.chat` is set."""
        if self._task is None:
            self._task = asyncio.create_task(self._load())
        return self._task

    async def _load(self) -> None:
        module = await asyncio.to_thread(importlib.import_module, "muralist.agents.service")
        chat = module.ChatService(self._services)
        await chat.turns.open()
        self._services.chat = chat
        logger.debug("chat service ready")

    async def ready(self) -> None:
        """Wait for the load to end (starting it if needed); failures are logged, not raised."""
        task = self.start()
        if not task.done():
            with suppress(Exception):
                await asyncio.shield(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("the chat service failed to load", exc_info=task.exception())

    async def stop(self) -> None:
        """Cancel a load still running (a no-op for one that ended) and wait for it."""
        if self._task is None:
            return
        self._task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await self._task


@asynccontextmanager
async def attach_chat(services: Services) -> AsyncIterator[None]:
    """Schedule loading the chat service; close it when the server stops."""
    loader = ChatLoader(services)
    services.extras[_LOADER] = loader
    warm_up = asyncio.get_running_loop().call_later(WARM_UP_DELAY_S, loader.start)
    try:
        yield
    finally:
        warm_up.cancel()
        await loader.stop()
        if services.chat is not None:
            await services.chat.aclose()


async def chat_service(services: Services) -> ChatService:
    """The chat service, loading it first if it is not there yet."""
    loader: ChatLoader | None = services.extras.get(_LOADER)
    if services.chat is None and loader is not None:
        await loader.ready()
    if services.chat is None:
        raise Unavailable("chat is not running on this server")
    return services.chat
