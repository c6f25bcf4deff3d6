"""Magic (contract section 11): a canvas snapshot becomes a finished picture on the canvas.

With a Jaaz key, the cloud's magic tool does it. Without one, a local magic: a vision-capable
language model reads the snapshot and writes a prompt, an image tool draws it (given the
snapshot as input image when it can edit), and the result lands at half size. Every outcome,
failures and missing configuration included, is an assistant message, as the UI expects.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import TYPE_CHECKING, Any

from pydantic_ai.direct import model_request
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.messages import (
    BinaryContent,
    ModelRequest,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)

from muralist.agents.models import ModelConfigError, ModelFactory, describe_error
from muralist.agents.requests import Message, TurnRequest
from muralist.ids import new_id
from muralist.media.canvas import place_on_canvas
from muralist.tools.base import MediaOutput, Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

MAGIC_TOOL_ID = "magic_image_jaaz"
NO_IMAGE = "✨ not found input image"
SUCCESS = "✨ Magic Success!!!"
RATIOS = {"1:1": 1.0, "16:9": 16 / 9, "4:3": 4 / 3, "3:4": 3 / 4, "9:16": 9 / 16}
VISION_INSTRUCTIONS = """\
You turn rough canvas sketches into prompts for an image generation model. Look at the
picture: shapes, arrows, handwritten notes and pasted images show what the user wants.
Write one self-contained English prompt (at most 120 words) for the finished picture:
subject, composition, style, colours and any text that must appear. Answer with the prompt
only, no preamble.
"""


class MagicConfigError(Exception):
    """Something to configure before magic can run; the message says what."""


def reply(text: str) -> Message:
    """An assistant reply in the shape the UI renders for magic."""
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def snapshot_url(message: Message) -> str | None:
    """The first image URL of a message (the canvas export)."""
    content = message.get("content")
    if not isinstance(content, list):
        return None
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url")
            if isinstance(url, str) and url:
                return url
    return None


def split_model_choice(choice: str) -> tuple[str, str] | None:
    """`provider:model` (the model part may contain ':' itself, e.g. ollama's llava:13b)."""
    provider, sep, model = choice.partition(":")
    return (provider, model) if sep and provider and model else None


class MagicFlow:
    """One magic run; `run` never raises for provider or configuration problems."""

    def __init__(self, services: Services, factory: ModelFactory, proxy: str | None) -> None:
        self._services = services
        self._factory = factory
        self._proxy = proxy

    async def run(self, request: TurnRequest) -> Message:
        """Make the picture and answer with the assistant message to store."""
        image = snapshot_url(request.new_message)
        if not image:
            return reply(NO_IMAGE)
        call_id = f"magic_{new_id(12)}"
        try:
            cloud = self._services.tools.get(MAGIC_TOOL_ID)
            if isinstance(cloud, Tool):
                outputs = await self._cloud(cloud, image, request, call_id)
            else:
                outputs = await self._local(image, request, call_id)
        except MagicConfigError as exc:
            return reply(f"✨ {exc}")
        except ToolError as exc:
            return reply(f"✨ Magic Generation Error: {exc.message}")
        links = "\n\n".join(f"![image_id: {o.file_name}]({o.url})" for o in outputs)
        # The cloud's own result URL when there is one (contract section 11), else ours.
        result_url = outputs[0].source_url or outputs[0].url
        return reply(f"{SUCCESS}\n\nResult url: {result_url}\n\n{links}")

    async def _cloud(
        self, tool: Tool, image: str, request: TurnRequest, call_id: str
    ) -> list[MediaOutput]:
        ctx = ToolContext.for_chat(
            self._services,
            session_id=request.session_id,
            canvas_id=request.canvas_id,
            tool_call_id=call_id,
        )
        result = await tool.run(tool.parse_args({"image": image}), ctx)
        return result.media

    async def _local(self, image: str, request: TurnRequest, call_id: str) -> list[MediaOutput]:
        provider, model_name = self._vision_choice()
        tool = self._image_tool()
        prompt = await self._describe(provider, model_name, image)
        args: dict[str, Any] = {"prompt": prompt}
        fields = tool.args_model.model_fields
        if "input_images" in fields:
            args["input_images"] = [await self._save_snapshot(image)]
        if "aspect_ratio" in fields:
            args["aspect_ratio"] = _nearest_ratio(image)
        # Placed by us at half size, so the tool itself must not place it.
        ctx = ToolContext.for_chat(
            self._services, session_id=request.session_id, canvas_id=None, tool_call_id=call_id
        )
        result = await tool.run(tool.parse_args(args), ctx)
        if request.canvas_id:
            return [await self._place_half(o, request) for o in result.media]
        return result.media

    def _vision_choice(self) -> tuple[str, str]:
        chosen = split_model_choice(str(self._services.user_settings.get("magic_model") or ""))
        if chosen:
            return chosen
        for name, entry in self._services.config.providers.items():
            if name in ("comfyui", "jaaz") or not str(entry.get("api_key") or "").strip():
                continue
            for model, info in (entry.get("models") or {}).items():
                if isinstance(info, dict) and info.get("type", "text") == "text":
                    return name, model
        raise MagicConfigError(
            "Magic needs a Jaaz login, or a vision-capable language model: add a provider "
            "with an API key (OpenAI, Anthropic, ...) in Settings, or set magic_model."
        )

    def _image_tool(self) -> Tool:
        tools = [t for t in self._services.tools.tools() if t.type == "image"]
        editing = [t for t in tools if "input_images" in t.args_model.model_fields]
        if editing or tools:
            return (editing or tools)[0]
        raise MagicConfigError(
            "Magic needs an image tool: add an API key for an image provider (OpenAI, "
            "Replicate, Volcengine) or a ComfyUI workflow in Settings."
        )

    async def _describe(self, provider: str, model_name: str, image: str) -> str:
        try:
            model = self._factory.build(
                provider, self._services.provider_entry(provider), model_name, self._proxy
            )
            snapshot = BinaryContent.from_data_uri(image)
            messages = [
                ModelRequest(
                    parts=[
                        SystemPromptPart(VISION_INSTRUCTIONS),
                        UserPromptPart(["Write the prompt for this sketch.", snapshot]),
                    ]
                )
            ]
            response = await model_request(model, messages)
        except ModelConfigError as exc:
            raise MagicConfigError(f"Magic cannot use {provider}: {exc}") from exc
        except (ModelAPIError, UnexpectedModelBehavior) as exc:
            raise ToolError(describe_error(exc, provider, model_name)) from exc
        except ValueError as exc:
            raise ToolError(f"the canvas snapshot is not a usable picture: {exc}") from exc
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart)).strip()
        if not text:
            raise ToolError(f"{provider} ({model_name}) wrote no prompt for the snapshot")
        return text

    async def _save_snapshot(self, image: str) -> str:
        files = self._services.files
        try:
            data = base64.b64decode(image.split(",", 1)[1], validate=True)
        except (IndexError, binascii.Error, ValueError) as exc:
            raise ToolError("the canvas snapshot is not a base64 data URL") from exc
        name = files.new_name("png", prefix="im_")
        await asyncio.to_thread(files.write, name, data)
        return name

    async def _place_half(self, output: MediaOutput, request: TurnRequest) -> MediaOutput:
        assert request.canvas_id is not None
        placement = await place_on_canvas(
            self._services.store,
            request.canvas_id,
            kind=output.kind,
            file_name=output.file_name,
            mime_type=output.mime_type,
            width=round(output.width / 2),
            height=round(output.height / 2),
        )
        await self._services.events.session(
            request.session_id,
            "image_generated",
            canvas_id=request.canvas_id,
            element=placement.element,
            file=placement.file,
            image_url=output.url,
        )
        return output


def _nearest_ratio(image: str) -> str:
    try:
        # 44 base64 characters are the first 33 bytes: enough for the PNG header.
        width, height = _png_size(base64.b64decode(image.split(",", 1)[1][:44]))
    except (IndexError, ValueError, binascii.Error):
        return "1:1"
    if not width or not height:
        return "1:1"
    return min(RATIOS, key=lambda name: abs(RATIOS[name] - width / height))


def _png_size(head: bytes) -> tuple[int, int]:
    # The IHDR chunk of a PNG holds width and height right after the signature.
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
