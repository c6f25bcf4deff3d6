"""Base of the static tools: one row of the registry table bound to a provider of config.toml."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel

from muralist.tools.base import MediaOutput, Tool, ToolContext, ToolError, ToolResult
from muralist.tools.inputs import load_input_images
from muralist.tools.providers.common import (
    MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES,
    InputImage,
    download,
)
from muralist.tools.publish import media_markdown, publish_image, publish_video
from muralist.tools.tuning import Tuning, tuning

if TYPE_CHECKING:
    from muralist.tools.registry import ToolSpec

logger = logging.getLogger(__name__)


class ProviderTool(Tool):
    """A tool of the static table; subclasses implement `generate`."""

    def __init__(self, spec: ToolSpec, args_model: type[BaseModel], description: str) -> None:
        self.id = spec.id
        self.provider = spec.provider
        self.type = spec.type  # type: ignore[assignment]
        self.display_name = spec.display_name
        self.model = spec.model
        self.needs_confirmation = spec.needs_confirmation
        self.args_model = args_model
        self.description = description

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        """Check the provider, generate, publish every output, return the markdown."""
        self.credentials(ctx)  # fail fast, before reading any input
        await ctx.progress(f"{self.display_name}: generating", 5)
        try:
            outputs = await self.generate(args, ctx)
        except BaseException:
            await ctx.progress("")  # hide the chat's progress pill on failure and cancel too
            raise
        if not outputs:
            raise ToolError(f"{self.display_name}: the provider returned nothing")
        await ctx.progress("", 100)
        return ToolResult(media_markdown(outputs), outputs)

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        """Call the provider and publish its outputs."""
        raise NotImplementedError

    # --- helpers ---------------------------------------------------------------------------

    def credentials(self, ctx: ToolContext) -> tuple[str, str]:
        """(url, api_key) of this tool's provider; ToolError when it is not configured."""
        entry = ctx.services.config.get(self.provider) or {}
        api_key = str(entry.get("api_key", "")).strip()
        if not api_key:
            raise ToolError(
                f"{self.display_name}: provider {self.provider!r} has no API key configured"
            )
        return str(entry.get("url", "")).strip(), api_key

    def tuning(self, ctx: ToolContext) -> Tuning:
        return tuning(ctx.services)

    def http(self, ctx: ToolContext) -> httpx.AsyncClient:
        """A client from the services' factory, so the proxy setting applies."""
        return ctx.services.http.client(timeout=self.tuning(ctx).timeout)

    async def inputs(
        self, ctx: ToolContext, references: Sequence[str] | None, field: str = "input_images"
    ) -> list[InputImage]:
        return await load_input_images(ctx.services.files, references, field)

    def metadata(self, args: Any, **extra: object) -> dict[str, object]:
        """PNG text chunks of section 12.1: prompt, model, provider and the call's options."""
        values = {
            "prompt": getattr(args, "prompt", None),
            "model": self.model,
            "provider": self.provider,
        }
        for key in ("aspect_ratio", "input_images", "image"):
            if getattr(args, key, None) is not None:
                values[key] = getattr(args, key)
        values.update(extra)
        return values

    async def publish_urls(
        self, ctx: ToolContext, client: httpx.AsyncClient, urls: Sequence[str], args: Any
    ) -> list[MediaOutput]:
        """Download each result picture and publish it."""
        outputs = []
        for url in urls:
            data, _ = await download(self.provider, client, url, MAX_IMAGE_BYTES)
            outputs.append(await publish_image(ctx, data, metadata=self.metadata(args)))
        return outputs

    async def publish_video_url(
        self, ctx: ToolContext, client: httpx.AsyncClient, url: str
    ) -> MediaOutput:
        data, content_type = await download(self.provider, client, url, MAX_VIDEO_BYTES)
        return await publish_video(ctx, data, content_type=content_type)
