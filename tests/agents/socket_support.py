"""Helpers for chat tests against a real server: a configured fake provider and socket watchers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import socketio

from tests.support import RunningServer

PROVIDER = "fakellm"
MODEL = "fake-model"


async def configure_provider(server: RunningServer, url: str, **extra: Any) -> None:
    """Point provider `fakellm` at a loopback fake (as POST /api/config would), and make
    sure canvas `canvas1` exists for the chats."""
    if not await server.services.store.canvases.exists("canvas1"):
        await server.services.store.canvases.create("canvas1", "Test canvas")
    entry = {
        "url": url,
        "api_key": "fake-key",
        "max_tokens": 256,
        "timeout": 3,
        "retries": 0,
        "models": {MODEL: {"type": "text"}},
        **extra,
    }
    await server.services.config.update({PROVIDER: entry})


def chat_body(session_id: str, text: str, **overrides: Any) -> dict[str, Any]:
    """A POST /api/chat body the way the UI builds it (content as a list of parts)."""
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "session_id": session_id,
        "canvas_id": "canvas1",
        "text_model": {"provider": PROVIDER, "model": MODEL, "url": "http://evil.example/"},
        "tool_list": [],
        "system_prompt": "Be brief.",
    }
    body.update(overrides)
    return body


class Watcher:
    """Records the updates one socket receives and lets a test await a given one."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()

    async def record(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.updates.append(data)
            self._changed.notify_all()

    def of(self, session_id: str) -> list[dict[str, Any]]:
        return [u for u in self.updates if u.get("session_id") == session_id]

    def types(self, session_id: str) -> list[str]:
        return [u["type"] for u in self.of(session_id)]

    async def wait(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.updates))

    async def wait_type(self, session_id: str, kind: str, count: int = 1) -> dict[str, Any]:
        await self.wait(lambda _: self.types(session_id).count(kind) >= count)
        return [u for u in self.of(session_id) if u["type"] == kind][count - 1]


@asynccontextmanager
async def watching(
    server: RunningServer, join: str | None = None
) -> AsyncIterator[tuple[Watcher, socketio.AsyncClient]]:
    """A socket that joins session `join` (updates as `message`), or never joins (as the stock
    UI does, updates as `session_update`)."""
    watcher = Watcher()
    async with server.socket() as sio:
        sio.on("message" if join else "session_update", watcher.record)
        if join:
            answer = await sio.call("join", {"session_id": join}, timeout=5)
            assert answer["ok"], answer
        yield watcher, sio
