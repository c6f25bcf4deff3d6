"""Node classes and prompt validation of the fake ComfyUI (utility nodes, done with Pillow).

Each node declares its inputs like ComfyUI's INPUT_TYPES (required names, the allowed values
of list inputs) and runs on plain values: images are lists of PIL images (a batch).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps


class NodeFailure(Exception):
    """Raised by a node while it runs; becomes ComfyUI's execution_error."""

    def __init__(self, exception_type: str, message: str) -> None:
        super().__init__(message)
        self.exception_type = exception_type


@dataclass
class RunContext:
    """What a running node may touch: the fake's files, progress reporting and the gate."""

    inputs: dict[str, bytes]
    outputs: dict[str, bytes]
    report: Callable[[int, int], Any]
    gate: asyncio.Event
    counter: dict[str, int] = field(default_factory=dict)

    def save(self, prefix: str, ext: str, data: bytes) -> dict[str, str]:
        """Store an output file the way SaveImage names them: prefix_00001_.png."""
        number = self.counter.get(prefix, 0) + 1
        self.counter[prefix] = number
        name = f"{prefix}_{number:05d}_.{ext}"
        self.outputs[name] = data
        return {"filename": name, "subfolder": "", "type": "output"}


@dataclass(frozen=True)
class NodeClass:
    """A node type: required inputs, list inputs' allowed values, output flag, behaviour."""

    required: tuple[str, ...]
    run: Callable[..., Any]
    output_node: bool = False
    choices: dict[str, Callable[[RunContext], list[str]]] = field(default_factory=dict)
    check: Callable[[RunContext, dict[str, Any]], str | None] | None = None


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def empty_image(
    ctx: RunContext, width: int, height: int, batch_size: int = 1, color: int = 0
) -> tuple[Any, dict | None]:
    rgb = ((int(color) >> 16) & 0xFF, (int(color) >> 8) & 0xFF, int(color) & 0xFF)
    return [Image.new("RGB", (int(width), int(height)), rgb) for _ in range(int(batch_size))], None


async def save_image(
    ctx: RunContext, images: list[Image.Image], filename_prefix: str = "ComfyUI"
) -> tuple[Any, dict | None]:
    return None, {"images": [ctx.save(filename_prefix, "png", _png(im)) for im in images]}


async def preview_image(ctx: RunContext, images: list[Image.Image]) -> tuple[Any, dict | None]:
    files = []
    for image in images:
        entry = ctx.save("ComfyUI_temp", "png", _png(image))
        files.append({**entry, "type": "temp"})
    return None, {"images": files}


async def load_image(ctx: RunContext, image: str) -> tuple[Any, dict | None]:
    return [Image.open(io.BytesIO(ctx.inputs[image])).convert("RGB")], None


async def invert_image(ctx: RunContext, image: list[Image.Image]) -> tuple[Any, dict | None]:
    return [ImageOps.invert(im) for im in image], None


async def sampler(
    ctx: RunContext, image: list[Image.Image], steps: int, seed: int = 0
) -> tuple[Any, dict | None]:
    """Stands in for KSampler: reports per-step progress and waits on the test's gate."""
    for step in range(1, int(steps) + 1):
        await ctx.gate.wait()
        await ctx.report(step, int(steps))
    return image, None


async def fail(ctx: RunContext, message: str = "boom") -> tuple[Any, dict | None]:
    raise NodeFailure("RuntimeError", message)


async def save_video(
    ctx: RunContext, images: list[Image.Image], filename_prefix: str = "ComfyUI"
) -> tuple[Any, dict | None]:
    # Not a playable video: the bytes only need to travel unchanged.
    data = b"\x00\x00\x00\x18ftypmp42" + _png(images[0])
    return None, {"images": [ctx.save(filename_prefix, "mp4", data)], "animated": [True]}


def _loadable(ctx: RunContext, values: dict[str, Any]) -> str | None:
    if values.get("image") not in ctx.inputs:
        return f"image - Invalid image file: {values.get('image')}"
    return None


NODE_CLASSES: dict[str, NodeClass] = {
    "EmptyImage": NodeClass(("width", "height", "batch_size", "color"), empty_image),
    "SaveImage": NodeClass(("images", "filename_prefix"), save_image, output_node=True),
    "PreviewImage": NodeClass(("images",), preview_image, output_node=True),
    "LoadImage": NodeClass(("image",), load_image, check=_loadable),
    "ImageInvert": NodeClass(("image",), invert_image),
    "FakeSampler": NodeClass(("image", "steps", "seed"), sampler),
    "FailingNode": NodeClass(("message",), fail, output_node=True),
    "SaveVideo": NodeClass(("images", "filename_prefix"), save_video, output_node=True),
    "CheckpointLoaderSimple": NodeClass(
        ("ckpt_name",), fail, choices={"ckpt_name": lambda ctx: []}
    ),
}


def comfy_error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    """An error object as ComfyUI writes it in /prompt rejections."""
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def validate_prompt(prompt: dict[str, Any], ctx: RunContext) -> dict[str, Any] | None:
    """None when the prompt is valid, else the 400 body ComfyUI sends for it."""
    outputs = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or "class_type" not in node:
            detail = f"Node ID '#{node_id}'"
            message = "Cannot execute because a node is missing the class_type property."
            return {"error": comfy_error("invalid_prompt", message, detail), "node_errors": {}}
        cls = NODE_CLASSES.get(node["class_type"])
        if cls is None:
            message = f"Cannot execute because node {node['class_type']} does not exist."
            return {
                "error": comfy_error("invalid_prompt", message, f"Node ID '#{node_id}'"),
                "node_errors": {},
            }
        if cls.output_node:
            outputs.append(node_id)
    if not outputs:
        return {
            "error": comfy_error("prompt_no_outputs", "Prompt has no outputs"),
            "node_errors": {},
        }
    node_errors: dict[str, Any] = {}
    for node_id, node in prompt.items():
        cls = NODE_CLASSES[node["class_type"]]
        values = node.get("inputs") or {}
        errors = [
            comfy_error("required_input_missing", "Required input is missing", name)
            for name in cls.required
            if name not in values
        ]
        for name, allowed in cls.choices.items():
            if name in values and values[name] not in allowed(ctx):
                detail = f"{name}: '{values[name]}' not in {allowed(ctx)}"
                errors.append(comfy_error("value_not_in_list", "Value not in list", detail))
        if not errors and cls.check is not None and (problem := cls.check(ctx, values)):
            message = "Custom validation failed for node"
            errors.append(comfy_error("custom_validation_failed", message, problem))
        if errors:
            node_errors[node_id] = {
                "errors": errors,
                "dependent_outputs": outputs,
                "class_type": node["class_type"],
            }
    if node_errors:
        details = "\n".join(
            f"{e['message']}: {e['details']}"
            for entry in node_errors.values()
            for e in entry["errors"]
        )
        error = comfy_error(
            "prompt_outputs_failed_validation", "Prompt outputs failed validation", details
        )
        return {"error": error, "node_errors": node_errors}
    return None


def execution_order(graph: dict[str, Any]) -> list[str]:
    """Nodes in an order where every link's source comes first."""
    order: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in order:
            return
        for value in (graph[node_id].get("inputs") or {}).values():
            if isinstance(value, list) and value and str(value[0]) in graph:
                visit(str(value[0]))
        order.append(node_id)

    for node_id in graph:
        visit(node_id)
    return order
