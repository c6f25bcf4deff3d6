"""Magic: the Jaaz cloud turns a canvas snapshot into a finished picture (contract section 11).

Hidden from /api/list_tools; the magic chat route and the V1 `magic` task call it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from muralist.tools.args import MagicArgs
from muralist.tools.base import MediaOutput, ToolContext, ToolError
from muralist.tools.provider_tool import ProviderTool
from muralist.tools.providers import jaaz
from muralist.tools.providers.common import MAX_IMAGE_BYTES, download
from muralist.tools.publish import publish_image

MAGIC_ID = "magic_image_jaaz"
_DATA_URL_HEAD = re.compile(r"^data:image/[a-z0-9.+-]+;base64,")


def is_data_url(value: str) -> bool:
    """True for a base64 `data:image/...` URL (the payload is checked by the provider)."""
    return bool(_DATA_URL_HEAD.match(value[:80]))


class MagicTool(ProviderTool):
    """Jaaz `image/magic`: result placed at half its pixel size."""

    listed = False

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        image = args.image.strip()
        if not is_data_url(image):
            loaded = await self.inputs(ctx, [image], field="image")
            image = loaded[0].data_url()
        async with self.http(ctx) as client:
            cloud = jaaz.JaazClient(
                client,
                url,
                key,
                magic_poll=self.tuning(ctx).poll(jaaz.MAGIC_POLL),
                timeout=self.tuning(ctx).timeout,
            )
            result_url = await cloud.magic(image)
            data, _ = await download(self.provider, client, result_url, MAX_IMAGE_BYTES)
        if not data:
            raise ToolError("magic: the result is empty")
        meta = {"model": "magic", "provider": self.provider, "original_url": result_url}
        output = await publish_image(ctx, data, metadata=meta, scale=0.5)
        return [dataclasses.replace(output, source_url=result_url)]


def magic_tool() -> MagicTool:
    """The magic tool (bound to the `jaaz` provider)."""
    from muralist.tools.registry import ToolSpec

    spec = ToolSpec(MAGIC_ID, "jaaz", "image", "Magic", "magic")
    return MagicTool(spec, MagicArgs, "Turn a sketch of canvas elements into a finished picture.")
