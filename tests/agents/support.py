"""Helpers for driving the turn runner against the loopback fakes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel

from muralist.agents.events import TurnEvent
from muralist.agents.models import ModelFactory
from muralist.agents.runner import TurnBudget, TurnRunner
from muralist.agents.swarm import build_swarm
from muralist.agents.tools import CallContext, ToolInputError, TurnTool


class DrawArgs(BaseModel):
    prompt: str
    aspect_ratio: str = "1:1"


class DrawTool(TurnTool):
    """A tiny generation tool: records its calls, can be slowed down or asked to confirm."""

    def __init__(self, name: str = "draw", *, needs_confirmation: bool = False) -> None:
        self.name = name
        self.description = "Draw a picture."
        self.needs_confirmation = needs_confirmation
        self.calls: list[tuple[DrawArgs, CallContext]] = []
        self.started = asyncio.Event()
        self.release: asyncio.Event | None = None

    def schema(self) -> dict[str, Any]:
        return DrawArgs.model_json_schema()

    def parse(self, raw: str) -> Any:
        try:
            return DrawArgs.model_validate_json(raw)
        except ValueError as exc:
            raise ToolInputError(str(exc).splitlines()[0]) from exc

    async def call(self, args: Any, ctx: CallContext) -> str:
        self.calls.append((args, ctx))
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        return f"![image_id: pic{len(self.calls)}.png](/api/file/pic{len(self.calls)}.png)"


class Collector:
    """A sink that keeps every event."""

    def __init__(self) -> None:
        self.events: list[TurnEvent] = []
        self.seen = asyncio.Condition()

    async def __call__(self, event: TurnEvent) -> None:
        async with self.seen:
            self.events.append(event)
            self.seen.notify_all()

    def types(self) -> list[str]:
        return [event.type or "stored" for event in self.events]

    async def wait_for(self, kind: type[TurnEvent], timeout: float = 5.0) -> TurnEvent:
        async with asyncio.timeout(timeout), self.seen:
            await self.seen.wait_for(lambda: any(isinstance(e, kind) for e in self.events))
        return next(e for e in self.events if isinstance(e, kind))


def provider_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "api_key": "test-key",
        "max_tokens": 100,
        "timeout": 3,
        "retries": 0,
        **extra,
    }


def make_runner(
    factory: ModelFactory,
    url: str,
    history: list[dict[str, Any]],
    *,
    tools: list[TurnTool] | None = None,
    provider: str = "openai-fake",
    active: str = "planner",
    confirm: Any = None,
    budget: TurnBudget | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[TurnRunner, Collector]:
    collector = Collector()
    model = factory.build(provider, config or provider_config(url), "test-model")
    runner = TurnRunner(
        model=model,
        provider=provider,
        agents=build_swarm(tools or [], "Always be brief."),
        active=active,
        history=history,
        session_id="s1",
        canvas_id="c1",
        sink=collector,
        confirm=confirm,
        budget=budget,
    )
    return runner, collector


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def sent_tools(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools", [])]


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def args(value: dict[str, Any]) -> str:
    return json.dumps(value)
