"""create_app: the FastAPI app and the Socket.IO server behind one security guard."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from muralist import __version__
from muralist.agents.attach import attach_chat
from muralist.api.errors import install_error_handlers
from muralist.api.routes import ROUTERS
from muralist.api.routes.ui import mount_ui
from muralist.api.security import SecurityGuard
from muralist.events.socket import create_socket_server
from muralist.services import Services, build_services
from muralist.settings import ServerSettings
from muralist.tasks import attach_tasks
from muralist.tools.registry import has_key

log = logging.getLogger(__name__)

Attachment = Callable[[Services], AbstractAsyncContextManager[None]]

# Services that attach themselves to `Services` at start-up (services.chat, services.tasks)
# and stop cleanly at shutdown. Each is an async context manager factory; add yours here.
ATTACHMENTS: list[Attachment] = [attach_chat, attach_tasks]


def _log_start(services: Services) -> None:
    settings = services.settings
    url = make_url(settings.db_url)
    log.info("data directory: %s", settings.data_dir)
    log.info("database: %s", url.render_as_string(hide_password=True))
    ready = [name for name, entry in services.config.providers.items() if has_key(entry)]
    log.info(
        "providers: %d configured, with a key: %s",
        len(services.config.names()),
        ", ".join(ready) or "none",
    )


class MuralistApp:
    """The ASGI application; `api`, `sio` and (once started) `services` are exposed for tests."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.sio = create_socket_server(settings.redis_url, settings.redis_prefix)
        self.api = FastAPI(
            title="Muralist",
            version=__version__,
            summary="A local-first server for an AI design agent",
            lifespan=self._lifespan,
        )
        install_error_handlers(self.api)
        for router in ROUTERS:
            self.api.include_router(router)
        mount_ui(self.api, settings.ui_dir)
        asgi = socketio.ASGIApp(self.sio, other_asgi_app=self.api, socketio_path="/socket.io")
        self._asgi = SecurityGuard(asgi, settings)

    @property
    def services(self) -> Services:
        return self.api.state.services

    @asynccontextmanager
    async def _lifespan(self, api: FastAPI) -> AsyncIterator[None]:
        services = await build_services(self.settings, self.sio)
        api.state.services = services
        async with AsyncExitStack() as stack:
            stack.push_async_callback(services.close)
            for attach in ATTACHMENTS:
                await stack.enter_async_context(attach(services))
            _log_start(services)
            services.models.refresh()
            await services.events.broadcast("init_done", {"type": "init_done"})
            yield

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)


def create_app(settings: ServerSettings | None = None) -> MuralistApp:
    """Build the application; settings default to the MURALIST_* environment."""
    settings = settings or ServerSettings()
    settings.check()
    return MuralistApp(settings)
