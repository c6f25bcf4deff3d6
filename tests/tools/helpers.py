"""Helpers for tests that run tools and tasks: every provider fake, a server wired to them,
and a socket that records what it hears."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio

from muralist.tools.base import ToolContext
from muralist.tools.tuning import EXTRAS_KEY, Tuning
from tests.fakes.jaaz_cloud import FakeJaazCloud
from tests.fakes.openai_images import FakeOpenAIImages
from tests.fakes.replicate import FakeReplicate
from tests.fakes.volces import FakeVolces
from tests.support import RunningServer, make_settings, running_server

FAST = Tuning(poll_scale=0.001)


def short_timeout(server: RunningServer, seconds: float = 0.3) -> None:
    """Provider calls of this server give up after `seconds` (polls stay fast)."""
    server.services.extras[EXTRAS_KEY] = Tuning(
        timeout=httpx.Timeout(seconds), poll_scale=FAST.poll_scale
    )


@dataclass
class Fakes:
    """The four provider fakes, started together."""

    openai: FakeOpenAIImages
    replicate: FakeReplicate
    volces: FakeVolces
    jaaz: FakeJaazCloud

    def all(self) -> list[Any]:
        return [self.openai, self.replicate, self.volces, self.jaaz]

    def reset(self) -> None:
        for fake in self.all():
            fake.reset()


def provider_config(fakes: Fakes) -> dict[str, Any]:
    """config.toml body enabling every provider at its fake."""
    return {
        "openai": {
            "url": fakes.openai.base_url,
            "api_key": fakes.openai.api_key,
            "models": {"dall-e-3": {"type": "image"}, "gpt-4o": {"type": "text"}},
        },
        "replicate": {"url": fakes.replicate.base_url, "api_key": fakes.replicate.api_key},
        "volces": {"url": fakes.volces.base_url, "api_key": fakes.volces.api_key},
        "jaaz": {"url": "", "api_key": fakes.jaaz.api_key},
    }


@asynccontextmanager
async def configured_server(
    tmp_path: Path, fakes: Fakes, **overrides: Any
) -> AsyncIterator[RunningServer]:
    """A server whose providers point at the fakes, with fast polls."""
    fakes.reset()
    settings = make_settings(tmp_path / "data", jaaz_base_url=fakes.jaaz.origin, **overrides)
    async with running_server(settings) as server:
        server.services.extras[EXTRAS_KEY] = FAST
        response = await server.client.post("/api/config", json=provider_config(fakes))
        assert response.status_code == 200, response.text
        yield server


@dataclass
class Heard:
    """Events a socket received, with a way to wait for one."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, name: str, data: dict[str, Any]) -> None:
        async with self._changed:
            self.events.append((name, data))
            self._changed.notify_all()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [data for _, data in self.events if data.get("type") == kind]

    async def wait_for(self, check: Callable[[Heard], bool], timeout: float = 10.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: check(self)), timeout)


@asynccontextmanager
async def listening(
    server: RunningServer, join: dict[str, str] | None = None
) -> AsyncIterator[Heard]:
    """A socket (joined to a room, or unjoined like the stock UI) recording updates."""
    heard = Heard()
    async with server.socket() as sio:
        _record(sio, heard)
        if join is not None:
            answer = await sio.call("join", join, timeout=5)
            assert answer["ok"], answer
        yield heard


def _record(sio: socketio.AsyncClient, heard: Heard) -> None:
    async def on_session_update(data: dict[str, Any]) -> None:
        await heard.add("session_update", data)

    async def on_message(data: dict[str, Any]) -> None:
        await heard.add("message", data)

    sio.on("session_update", on_session_update)
    sio.on("message", on_message)


def chat_context(
    server: RunningServer, canvas_id: str = "canvas1", call: str = "call_1"
) -> ToolContext:
    return ToolContext.for_chat(
        server.services, session_id="sess1", canvas_id=canvas_id, tool_call_id=call
    )


@contextmanager
def all_fakes() -> Iterator[Fakes]:
    """Start every provider fake."""
    with FakeOpenAIImages() as o, FakeReplicate() as r, FakeVolces() as v, FakeJaazCloud() as j:
        yield Fakes(o, r, v, j)


TERMINAL = ("succeeded", "failed", "cancelled")


async def wait_task(
    server: RunningServer, task_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 10.0
) -> dict[str, Any]:
    """Wait until a task reaches one of `statuses`: join its room first, then read it, so no
    update can slip between the read and the wait."""
    async with listening(server, join={"task_id": task_id}) as heard:
        response = await server.client.get(f"/api/v1/video/status/{task_id}")
        assert response.status_code == 200, response.text
        if response.json()["status"] in statuses:
            return response.json()
        await heard.wait_for(
            lambda h: any(e["status"] in statuses for e in h.of_type("task_update")), timeout
        )
    response = await server.client.get(f"/api/v1/video/status/{task_id}")
    return response.json()
