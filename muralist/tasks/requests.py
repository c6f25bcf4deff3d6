"""V1 task request bodies and their translation into a tool call that can run.

Everything that would make a task fail before it reaches a provider (no such tool, no provider
key, a missing input file, arguments the tool refuses) is found here, so the route answers 4xx
and no task row is written.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from muralist.errors import BadRequest, PayloadTooLarge
from muralist.media.files import FileStore
from muralist.media.images import MediaError, image_size
from muralist.tools.base import Tool, ToolError
from muralist.tools.inputs import check_input_images
from muralist.tools.magic import MAGIC_ID, is_data_url
from muralist.tools.registry import ToolRegistry

TaskType = Literal["image", "video", "magic"]
ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
MAX_QUANTITY = 10


class TaskCreate(BaseModel):
    """POST /api/v1/image and /api/v1/video."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=8000)
    tool: str | None = Field(
        None,
        max_length=200,
        description="Tool id; the first configured tool of the type when omitted.",
    )
    aspect_ratio: str | None = Field(None, max_length=10)
    input_images: list[str] = Field(
        default_factory=list, max_length=10, description="File ids in the file store."
    )
    canvas_id: str | None = Field(
        None, pattern=ID_PATTERN, description="Canvas to place the results on."
    )
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
    options: dict[str, Any] = Field(
        default_factory=dict, description="Further arguments of the tool (for example duration)."
    )


class MagicCreate(BaseModel):
    """POST /api/v1/magic."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, description="A data: URL of the picture, or a file id.")
    canvas_id: str | None = Field(None, pattern=ID_PATTERN)


class TaskAccepted(BaseModel):
    task_id: str
    status: Literal["queued"] = "queued"


@dataclass(frozen=True)
class PlannedTask:
    """A validated request: the tool to run, its arguments and how many times."""

    type: TaskType
    tool: Tool
    args: dict[str, Any]
    quantity: int
    canvas_id: str | None


def choose_tool(tools: ToolRegistry, tool_id: str | None, kind: Literal["image", "video"]) -> Tool:
    """The asked tool, or the first configured one of `kind`; BadRequest naming `tool`."""
    if tool_id is None:
        tool = tools.first_of_type(kind)
        if tool is None:
            raise BadRequest(
                f"tool: no {kind} tool is configured; add a provider key in the settings"
            )
        return tool
    tool = tools.get(tool_id)
    if tool is None or not tool.listed:
        raise BadRequest(f"tool: {tool_id!r} is not a configured tool (see /api/list_tools)")
    if tool.type != kind:
        raise BadRequest(f"tool: {tool_id!r} is a {tool.type} tool, not a {kind} tool")
    return tool


def _image_field(tool: Tool) -> str | None:
    fields = tool.args_model.model_fields
    return next((name for name in ("input_images", "image") if name in fields), None)


def _prompt_field(fields: dict[str, Any]) -> str | None:
    """Where the prompt goes: `prompt`, else the first text input named like one (ComfyUI
    workflows saved from the UI call theirs `text_6`). A workflow without one ignores it."""
    if "prompt" in fields:
        return "prompt"
    for name, field in fields.items():
        if field.annotation in (str, str | None) and ("prompt" in name or "text" in name):
            return name
    return None


def plan_generation(
    tools: ToolRegistry, files: FileStore, body: TaskCreate, kind: Literal["image", "video"]
) -> PlannedTask:
    """Check an image or video request against its tool."""
    tool = choose_tool(tools, body.tool, kind)
    fields = tool.args_model.model_fields
    args: dict[str, Any] = dict(body.options)
    prompt_field = _prompt_field(fields)
    if prompt_field is not None:
        args.setdefault(prompt_field, body.prompt)
    if body.aspect_ratio is not None:
        if "aspect_ratio" not in fields:
            raise BadRequest(f"aspect_ratio: tool {tool.id!r} takes no aspect ratio")
        args["aspect_ratio"] = body.aspect_ratio
    if body.input_images:
        field = _image_field(tool)
        if field is None:
            raise BadRequest(f"input_images: tool {tool.id!r} takes no input images")
        try:
            args[field] = check_input_images(files, body.input_images)
        except ToolError as exc:
            raise BadRequest(exc.message) from exc
    try:
        parsed = tool.parse_args(args)
    except ToolError as exc:
        raise BadRequest(exc.message) from exc
    return PlannedTask(
        kind, tool, parsed.model_dump(mode="json", exclude_none=True), body.quantity, body.canvas_id
    )


def store_data_url(files: FileStore, data_url: str, max_bytes: int) -> str:
    """Save a `data:image/...;base64,` URL as an upload; returns its file id."""
    payload = data_url.split(",", 1)[1]
    if len(payload) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(f"image: the picture is larger than {max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
        image_size(data)
    except (binascii.Error, ValueError, MediaError) as exc:
        raise BadRequest(f"image: not a readable picture in a base64 data URL ({exc})") from exc
    extension = data_url[len("data:image/") : data_url.index(";")].split("+")[0]
    extension = {"jpeg": "jpg", "svg": "png"}.get(extension, extension)
    name = files.new_name(extension if extension.isalnum() else "png", prefix="im_", size=8)
    files.write(name, data)
    return name


def plan_magic(
    tools: ToolRegistry, files: FileStore, body: MagicCreate, max_bytes: int
) -> PlannedTask:
    """Check a magic request; an inline picture is stored so the task row stays small."""
    tool = tools.get(MAGIC_ID)
    if tool is None:
        raise BadRequest("image: magic needs the jaaz provider; log in to the Jaaz cloud first")
    if is_data_url(body.image):
        file_id = store_data_url(files, body.image, max_bytes)
    else:
        try:
            file_id = check_input_images(files, [body.image], "image")[0]
        except ToolError as exc:
            raise BadRequest(exc.message.replace("image[0]", "image")) from exc
    args = tool.parse_args({"image": file_id}).model_dump(mode="json")
    return PlannedTask("magic", tool, args, 1, body.canvas_id)
