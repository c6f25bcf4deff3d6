"""The execution interface every generation tool implements (static providers and ComfyUI).

How a caller (the chat's creator agent, the V1 task runner) runs a tool:

    tool = services.tools.get(tool_id)              # a Tool, or None when not configured
    args = tool.parse_args(raw)                     # raw: JSON text, dict or None
    ctx = ToolContext.for_chat(services, session_id=..., canvas_id=..., tool_call_id=...)
    result = await tool.run(args, ctx)              # ToolResult: markdown text + media outputs

- `parse_args` validates with the tool's pydantic `args_model` and raises `ToolArgumentsError`
  naming the field. `json_schema()` is the schema the language model sees; the function name
  the model sees is `tool.id` (one name per tool).
- `run` raises `ToolError` with a message fit for the model and the user (provider refusals,
  timeouts, missing input files). Anything else escaping `run` is a bug.
- Cancellation is asyncio cancellation: the caller cancels the task awaiting `run`. Tools clean
  up on `asyncio.CancelledError` (they call the provider's cancel endpoint where one exists)
  and re-raise it.
- Progress: a tool calls `await ctx.progress("Executing KSampler 45%", 45)`; the chat context
  turns it into a `tool_call_progress` event, a task context into the task's `progress`.
- Outputs: a tool stores each picture or video through `muralist.tools.publish`
  (`publish_image` / `publish_video`), which writes the file store, places the element on the
  canvas `ctx.canvas_id` and emits `image_generated` / `video_generated`. A tool may return
  several outputs (a ComfyUI workflow with two SaveImage nodes, Midjourney's four images).
- Dynamic tools (ComfyUI workflows) build `args_model` at run time with
  `pydantic.create_model` and subclass `Tool` like the static ones.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

ToolType = Literal["image", "video", "system"]
MediaKind = Literal["image", "video"]


class ToolError(Exception):
    """A tool failed for a reason the model and the user should read (provider error, timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolArgumentsError(ToolError):
    """The arguments of a tool call do not fit its schema; the message names the field."""


@dataclass(frozen=True)
class Progress:
    """One progress report: human text for the chat pill, and a percentage when known."""

    update: str
    percent: float | None = None


ProgressCallback = Callable[[Progress], Awaitable[None]]


@dataclass
class ToolContext:
    """Where a tool call runs: its session, canvas and call id, and how to report progress.

    `session_id` is None for V1 tasks (no chat); `canvas_id` None means "do not place on a
    canvas". `task_id` is set when a V1 task runs the tool.
    """

    services: Services
    session_id: str | None = None
    canvas_id: str | None = None
    tool_call_id: str = ""
    task_id: str | None = None
    on_progress: ProgressCallback | None = None

    async def progress(self, update: str, percent: float | None = None) -> None:
        """Report progress; failures of the reporting channel never fail the tool."""
        if self.on_progress is None:
            return
        try:
            await self.on_progress(Progress(update, percent))
        except Exception:  # a closed socket must not abort a paid generation
            logger.warning("progress report for %s failed", self.tool_call_id, exc_info=True)

    @classmethod
    def for_chat(
        cls, services: Services, *, session_id: str, canvas_id: str | None, tool_call_id: str
    ) -> ToolContext:
        """A context whose progress goes out as `tool_call_progress` session events."""

        async def emit(progress: Progress) -> None:
            await services.events.session(
                session_id, "tool_call_progress", tool_call_id=tool_call_id, update=progress.update
            )

        return cls(
            services=services,
            session_id=session_id,
            canvas_id=canvas_id,
            tool_call_id=tool_call_id,
            on_progress=emit,
        )


@dataclass(frozen=True)
class MediaOutput:
    """One stored result: file store name, relative URL and pixel size."""

    kind: MediaKind
    file_name: str
    url: str
    width: int
    height: int
    mime_type: str
    element_id: str | None = None  # canvas element / file id when it was placed
    source_url: str | None = None  # where the provider served it, when that is worth telling


@dataclass
class ToolResult:
    """What a tool returns: markdown for the model, and every stored output."""

    text: str
    media: list[MediaOutput] = field(default_factory=list)


# An alias: inside Tool, `type` names the tool's type attribute, not the builtin.
ArgsModel = type[BaseModel]


class Tool(ABC):
    """A callable generation tool; subclasses set the class attributes and implement `run`."""

    id: str
    provider: str
    type: ToolType
    display_name: str
    description: str
    args_model: ArgsModel
    needs_confirmation: bool = False
    # True when running the tool twice costs nothing extra (local ComfyUI): such a task left
    # running by a crash is re-queued instead of failed.
    retry_safe: bool = False
    # Hidden tools (magic) are callable but absent from /api/list_tools.
    listed: ClassVar[bool] = True

    def info(self) -> dict[str, str]:
        """The ToolInfo of contract section 1.2."""
        return {
            "id": self.id,
            "provider": self.provider,
            "type": self.type,
            "display_name": self.display_name,
        }

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as the language model sees it."""
        return self.args_model.model_json_schema()

    def parse_args(self, raw: str | Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """Validate arguments (JSON text, mapping or model) into `args_model`."""
        if isinstance(raw, self.args_model):
            return raw
        if isinstance(raw, BaseModel):
            raw = raw.model_dump()
        if raw is None or raw == "":
            raw = {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(f"{self.id}: arguments are not valid JSON: {exc}") from exc
        if not isinstance(raw, Mapping):
            raise ToolArgumentsError(f"{self.id}: arguments must be a JSON object")
        try:
            return self.args_model.model_validate(dict(raw))
        except ValidationError as exc:
            raise ToolArgumentsError(f"{self.id}: {describe_validation_error(exc)}") from exc

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        """Run the tool; raise ToolError on failure; re-raise CancelledError after cleanup."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each failing field, e.g. `prompt: Field required`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
