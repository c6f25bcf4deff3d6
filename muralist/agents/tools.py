"""Tools the agents call: write_plan, the handoffs, and adapters for generation tools."""

from __future__ import annotations

import functools
import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_ai.tools import ToolDefinition

from muralist.tools.base import Tool, ToolContext, ToolError, describe_validation_error

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

HIDE_MARKER = "<hide_in_user_ui>"
PLAN_RESULT = (
    f"{HIDE_MARKER} Plan made. Now start executing it, or hand over to the agent "
    "that does the next step."
)
CANCELLED_TEXT = "工具调用已取消"  # the UI compares a cancelled call's result to this exact text


class ToolInputError(Exception):
    """The model's arguments do not fit the tool; the message names the field."""


@dataclass(frozen=True)
class CallContext:
    """Where a tool call happens."""

    session_id: str
    canvas_id: str | None
    tool_call_id: str


class TurnTool(ABC):
    """A tool as the turn runner sees it: a definition, argument parsing and a call."""

    name: str
    description: str
    needs_confirmation: bool = False
    handoff_to: str | None = None

    def definition(self) -> ToolDefinition:
        """What the model is told about the tool (built once per tool object)."""
        cached = self.__dict__.get("_definition")
        if cached is None:
            cached = ToolDefinition(
                name=self.name, description=self.description, parameters_json_schema=self.schema()
            )
            self.__dict__["_definition"] = cached
        return cached

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments."""

    @abstractmethod
    def parse(self, raw: str) -> Any:
        """Validate the JSON argument text; raise ToolInputError naming the field."""

    @abstractmethod
    async def call(self, args: Any, ctx: CallContext) -> str:
        """Run the tool and return the text the model reads; raise ToolError on failure."""


@functools.cache
def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema, computed once (pydantic takes about half a millisecond)."""
    return model.model_json_schema()


def _parse_model(name: str, model: type[BaseModel], raw: str) -> BaseModel:
    try:
        data = json.loads(raw or "{}")
    except ValueError as exc:
        raise ToolInputError(f"{name}: arguments are not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ToolInputError(f"{name}: arguments must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ToolInputError(f"{name}: {describe_validation_error(exc)}") from exc


class PlanStep(BaseModel):
    title: str = Field(min_length=1, description="Short name of the step")
    description: str = Field("", description="What the step does, when the title is not enough")


class WritePlanArgs(BaseModel):
    steps: list[PlanStep] = Field(min_length=1, description="The steps, in order")


class WritePlanTool(TurnTool):
    """`write_plan`: the UI renders its arguments as a numbered plan card."""

    name = "write_plan"
    description = "Write a short step-by-step plan for a task that needs several steps."

    def schema(self) -> dict[str, Any]:
        return model_schema(WritePlanArgs)

    def parse(self, raw: str) -> Any:
        return _parse_model(self.name, WritePlanArgs, raw)

    async def call(self, args: Any, ctx: CallContext) -> str:
        return PLAN_RESULT


class EmptyArgs(BaseModel):
    pass


class HandoffTool(TurnTool):
    """`transfer_to_<agent>`: the next model step is taken by that agent."""

    def __init__(self, target: str, purpose: str) -> None:
        self.handoff_to = target
        self.name = f"transfer_to_{target}"
        self.description = (
            f"Hand the conversation over to {target}: {purpose}. Call it alone, "
            "never together with another tool in the same message."
        )

    def schema(self) -> dict[str, Any]:
        return model_schema(EmptyArgs)

    def parse(self, raw: str) -> Any:
        # Models sometimes send arguments to an argument-less handoff; they change nothing.
        return None

    async def call(self, args: Any, ctx: CallContext) -> str:
        return f"{HIDE_MARKER} Successfully transferred to {self.handoff_to}"


class GenerationTool(TurnTool):
    """A registry tool (image, video, ComfyUI workflow) run through its execution interface."""

    def __init__(self, tool: Tool, services: Services) -> None:
        self._tool = tool
        self._services = services
        self.name = tool.id
        self.description = tool.description
        self.needs_confirmation = bool(tool.needs_confirmation)

    def schema(self) -> dict[str, Any]:
        return self._tool.json_schema()

    def parse(self, raw: str) -> Any:
        try:
            return self._tool.parse_args(raw)
        except ToolError as exc:
            raise ToolInputError(exc.message) from exc

    async def call(self, args: Any, ctx: CallContext) -> str:
        tool_ctx = ToolContext.for_chat(
            self._services,
            session_id=ctx.session_id,
            canvas_id=ctx.canvas_id,
            tool_call_id=ctx.tool_call_id,
        )
        result = await self._tool.run(args, tool_ctx)
        return result.text


def generation_tools(services: Services, tool_list: list[dict[str, Any]]) -> list[TurnTool]:
    """The runnable registry tools named by a request's `tool_list` (unknown ids are skipped)."""
    tools: list[TurnTool] = []
    seen: set[str] = set()
    for info in tool_list:
        tool_id = str(info.get("id", "")) if isinstance(info, dict) else ""
        if not tool_id or tool_id in seen:
            continue
        seen.add(tool_id)
        tool = services.tools.get(tool_id)
        # Hidden tools (write_plan, magic) are not the creator's, even when a request names them.
        if isinstance(tool, Tool) and tool.listed:
            tools.append(GenerationTool(tool, services))
        else:
            logger.debug("tool %s is not available for chat", tool_id)
    return tools
