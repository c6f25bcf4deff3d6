"""Attaches the chat service at start-up without putting the agent library on that path.

Importing the language-model libraries takes about 1.7 s of CPU, longer than the rest of the
server's start. The chat service is therefore loaded in a worker thread once the server is up;
a chat request that arrives before it is ready waits for it (see `chat_service`).
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

_READY = "chat_ready"


async def _load(services: Services) -> None:
    module = await asyncio.to_thread(importlib.import_module, "muralist.agents.service")
    chat = module.ChatService(services)
    await chat.turns.open()
    services.chat = chat
    logger.debug("chat service ready")


@asynccontextmanager
async def attach_chat(services: Services) -> AsyncIterator[None]:
    """Start loading the chat service; close it when the server stops."""
    loading = asyncio.create_task(_load(services))
    services.extras[_READY] = loading
    try:
        yield
    finally:
        if not loading.done():
            loading.cancel()
        with suppress(asyncio.CancelledError):
            await loading
        if services.chat is not None:
            await services.chat.aclose()


async def chat_service(services: Services) -> ChatService:
    """The chat service, once loaded (waits for it during the first second or two)."""
    loading = services.extras.get(_READY)
    if loading is not None and not loading.done():
        await asyncio.shield(loading)
    if services.chat is None:
        if loading is not None and loading.done() and loading.exception() is not None:
            logger.error("the chat service failed to load", exc_info=loading.exception())
        raise Unavailable("chat is not running on this server")
    return services.chat
