"""Storing a tool's output: file store, canvas placement, socket event, result markdown.

Every tool (static or ComfyUI) ends with `publish_image` / `publish_video` for each output and
returns `ToolResult(media_markdown(outputs), outputs)`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from muralist.media.canvas import place_on_canvas
from muralist.media.images import VIDEO_EXTENSIONS, MediaError, to_png, video_mime, video_size
from muralist.tools.base import MediaOutput, ToolContext, ToolError

logger = logging.getLogger(__name__)

# A video whose size cannot be read (not MP4) still gets a sensible box on the canvas.
DEFAULT_VIDEO_SIZE = (1280, 720)


def event_session_id(ctx: ToolContext) -> str:
    """The session id carried by media events: the chat session, or `task_<id>` for tasks.

    Task results have no chat session; a non-empty id keeps them visible to clients that drop
    updates without one, and matches no real session.
    """
    if ctx.session_id:
        return ctx.session_id
    return f"task_{ctx.task_id}" if ctx.task_id else ""


async def publish_image(
    ctx: ToolContext,
    data: bytes,
    *,
    metadata: Mapping[str, object] | None = None,
    scale: float = 1.0,
) -> MediaOutput:
    """Store a picture as PNG (with `metadata` text chunks), place it, emit `image_generated`.

    `scale` sizes the canvas element (magic results are shown at half size).
    """
    try:
        encoded = await asyncio.to_thread(to_png, data, metadata)
    except MediaError as exc:
        raise ToolError(f"the provider's result is not a usable picture: {exc}") from exc
    files = ctx.services.files
    name = files.new_name("png")
    await asyncio.to_thread(files.write, name, encoded.data)
    output = MediaOutput("image", name, files.url(name), encoded.width, encoded.height, "image/png")
    return await _place(ctx, output, scale)


async def publish_video(
    ctx: ToolContext, data: bytes, *, content_type: str = "", size: tuple[int, int] | None = None
) -> MediaOutput:
    """Store a video as it came, place it, emit `video_generated`."""
    if not data:
        raise ToolError("the provider's result is an empty video")
    mime = video_mime(data, content_type)
    width, height = size or video_size(data) or DEFAULT_VIDEO_SIZE
    files = ctx.services.files
    name = files.new_name(VIDEO_EXTENSIONS.get(mime, "mp4"), prefix="vi_", size=8)
    await asyncio.to_thread(files.write, name, data)
    output = MediaOutput("video", name, files.url(name), width, height, mime)
    return await _place(ctx, output, 1.0)


async def _place(ctx: ToolContext, output: MediaOutput, scale: float) -> MediaOutput:
    if not ctx.canvas_id:
        return output
    placement = await place_on_canvas(
        ctx.services.store,
        ctx.canvas_id,
        kind=output.kind,
        file_name=output.file_name,
        mime_type=output.mime_type,
        width=round(output.width * scale),
        height=round(output.height * scale),
    )
    url_field = "image_url" if output.kind == "image" else "video_url"
    await ctx.services.events.session(
        event_session_id(ctx),
        f"{output.kind}_generated",
        canvas_id=ctx.canvas_id,
        element=placement.element,
        file=placement.file,
        **{url_field: output.url},
    )
    logger.info("%s %s placed on canvas %s", output.kind, output.file_name, ctx.canvas_id)
    return replace(output, element_id=placement.element["id"])


def media_markdown(outputs: Sequence[MediaOutput]) -> str:
    """The tool result text: `image_id:` / `video_id:` alt text and the relative file URL."""
    images = [o for o in outputs if o.kind == "image"]
    videos = [o for o in outputs if o.kind == "video"]
    parts = []
    if images:
        links = " ".join(f"![image_id: {o.file_name}]({o.url})" for o in images)
        parts.append(f"image generated successfully {links}")
    if videos:
        links = " ".join(f"![video_id: {o.file_name}]({o.url})" for o in videos)
        parts.append(f"video generated successfully {links}")
    return "\n".join(parts)
