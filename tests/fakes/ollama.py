"""A loopback fake of Ollama's model listing (GET /api/tags), able to hold its answer."""

import asyncio
from typing import Any

from aiohttp import web


class FakeOllama:
    """`async with FakeOllama(["llama3:8b"]) as ollama:`; clear `open` to hold answers."""

    def __init__(self, models: list[str]) -> None:
        self.models = models
        self.open = asyncio.Event()
        self.open.set()
        self.requested = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _tags(self, _request: web.Request) -> web.Response:
        self.requested.set()
        await self.open.wait()
        body: dict[str, Any] = {
            "models": [{"name": name, "model": name, "size": 1} for name in self.models]
        }
        return web.json_response(body)

    async def __aenter__(self) -> "FakeOllama":
        app = web.Application()
        app.add_routes([web.get("/api/tags", self._tags)])
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.open.set()
        if self._runner is not None:
            await self._runner.cleanup()
