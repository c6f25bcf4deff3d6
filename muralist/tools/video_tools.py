"""Video tools of the static table: Jaaz cloud video tasks and Volcengine Seedance."""

from __future__ import annotations

from typing import Any

from muralist.tools.args import (
    HailuoArgs,
    KlingArgs,
    SeedanceArgs,
    SeedanceLiteI2VArgs,
    SeedanceLiteT2VArgs,
    Veo3Args,
)
from muralist.tools.base import ArgsModel, MediaOutput, ToolContext, ToolError
from muralist.tools.provider_tool import ProviderTool
from muralist.tools.providers import jaaz, volces
from muralist.tools.providers.common import MAX_VIDEO_BYTES
from muralist.tools.publish import publish_video

# Which cloud call each Jaaz video model uses.
_JAAZ_PATHS = {"seedance-1.0-pro": "video/seedance/generation"}
_JAAZ_DEFAULT_PATH = "video/sunra/generations"


class JaazVideoTool(ProviderTool):
    """A Jaaz cloud video task: create, poll `task/<id>`, download `result_url`."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        body: dict[str, Any] = {"model": self.model, **args.model_dump(exclude_none=True)}
        inputs = await self.inputs(ctx, getattr(args, "input_images", None))
        if inputs:
            body["input_images"] = [image.data_url() for image in inputs]
        path = _JAAZ_PATHS.get(self.model, _JAAZ_DEFAULT_PATH)
        async with self.http(ctx) as client:
            cloud = jaaz.JaazClient(client, url, key, timeout=self.tuning(ctx).timeout)
            task = await cloud.run_task(path, body, self.tuning(ctx).poll(jaaz.VIDEO_POLL))
            result_url = task.get("result_url")
            if not result_url:
                raise ToolError(f"{self.display_name}: the task succeeded without a video URL")
            return [await self.publish_video_url(ctx, client, str(result_url))]


class VolcesVideoTool(ProviderTool):
    """Volcengine Seedance: `contents/generations/tasks`, polled to the end."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        inputs = await self.inputs(ctx, getattr(args, "input_images", None))
        text = volces.seedance_text(
            args.prompt,
            resolution=args.resolution,
            duration=args.duration,
            camera_fixed=args.camera_fixed,
            # With a first frame the picture sets the shape; a ratio would fight it.
            aspect_ratio=None if inputs else args.aspect_ratio,
        )
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for index, image in enumerate(inputs[:2]):
            item: dict[str, Any] = {"type": "image_url", "image_url": {"url": image.data_url()}}
            if len(inputs) > 1:
                item["role"] = "first_frame" if index == 0 else "last_frame"
            content.append(item)
        async with self.http(ctx) as client:
            api = volces.VolcesClient(
                client,
                url or volces.DEFAULT_URL,
                key,
                poll_policy=self.tuning(ctx).poll(volces.DEFAULT_POLL),
                timeout=self.tuning(ctx).timeout,
                max_video_bytes=MAX_VIDEO_BYTES,
            )
            data = await api.generate_video(self.model, content)
        return [await publish_video(ctx, data)]


VIDEO_TEXT = "Generate a short video from a detailed text prompt with {name}."
VIDEO_IMAGES = (
    "Generate a short video with {name} from a detailed prompt and input_images (file ids of "
    "the first, and optionally the last, frame)."
)


def video_tool(spec: Any) -> ProviderTool:
    """The video tool for a row of the static table."""
    name = spec.display_name
    if spec.provider == "volces":
        if spec.id.endswith("_t2v"):
            return VolcesVideoTool(spec, SeedanceLiteT2VArgs, VIDEO_TEXT.format(name=name))
        if spec.id.endswith("_i2v_volces"):
            return VolcesVideoTool(spec, SeedanceLiteI2VArgs, VIDEO_IMAGES.format(name=name))
        return VolcesVideoTool(spec, SeedanceArgs, VIDEO_IMAGES.format(name=name))
    if spec.provider == "jaaz":
        models: dict[str, ArgsModel] = {
            "hailuo-02": HailuoArgs,
            "kling-v2.1-standard": KlingArgs,
            "veo3-fast": Veo3Args,
        }
        args_model = models.get(spec.model, SeedanceArgs)
        text = VIDEO_TEXT if args_model is Veo3Args else VIDEO_IMAGES
        return JaazVideoTool(spec, args_model, text.format(name=name))
    raise ValueError(f"no video tool for provider {spec.provider!r}")
