"""Image tools of the static table: Jaaz cloud, OpenAI images, Replicate, Volcengine."""

from __future__ import annotations

import secrets
from typing import Any

from muralist.tools.args import ImageArgs, ImageWithInputsArgs, MidjourneyArgs, SeedEditArgs
from muralist.tools.base import MediaOutput, ToolContext, ToolError
from muralist.tools.provider_tool import ProviderTool
from muralist.tools.providers import jaaz, openai_images, replicate, volces
from muralist.tools.providers.common import MAX_IMAGE_BYTES, download
from muralist.tools.publish import publish_image

TEXT_TO_IMAGE = "Generate an image from a detailed text prompt with {name}."
WITH_INPUTS = (
    "Generate an image with {name} from a detailed text prompt; pass input_images (file ids) "
    "to edit or combine existing pictures."
)


class JaazImageTool(ProviderTool):
    """Jaaz cloud `image/generations` (OpenAI-style body for openai/* models)."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        inputs = await self.inputs(ctx, getattr(args, "input_images", None))
        async with self.http(ctx) as client:
            cloud = jaaz.JaazClient(
                client,
                url,
                key,
                search_poll=self.tuning(ctx).poll(jaaz.SEARCH_POLL),
                timeout=self.tuning(ctx).timeout,
            )
            urls = await cloud.generate_image(
                model=self.model,
                prompt=args.prompt,
                aspect_ratio=args.aspect_ratio,
                input_images=[image.data_url() for image in inputs],
            )
            return await self.publish_urls(ctx, client, urls, args)


class MidjourneyTool(ProviderTool):
    """Jaaz cloud Midjourney task; every returned picture is published."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        inputs = await self.inputs(ctx, args.input_images)
        body: dict[str, Any] = {"prompt": args.prompt, "model": "midjourney"}
        if inputs:
            body["input_images"] = [inputs[0].data_url()]
        async with self.http(ctx) as client:
            cloud = jaaz.JaazClient(client, url, key, timeout=self.tuning(ctx).timeout)
            task = await cloud.run_task(
                "image/midjourney/generation", body, self.tuning(ctx).poll(jaaz.VIDEO_POLL)
            )
            images = (task.get("result") or {}).get("images") or []
            urls = [i["url"] for i in images if isinstance(i, dict) and i.get("url")]
            if not urls and task.get("result_url"):
                urls = [task["result_url"]]
            outputs = []
            for index, image_url in enumerate(urls):
                data, _ = await download(self.provider, client, image_url, MAX_IMAGE_BYTES)
                meta = self.metadata(args, index=index, total=len(urls), original_url=image_url)
                outputs.append(await publish_image(ctx, data, metadata=meta))
            return outputs


class OpenAIImageTool(ProviderTool):
    """OpenAI images: generations, or edits when input images are given."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        inputs = await self.inputs(ctx, args.input_images)
        size = openai_images.image_size(self.model, args.aspect_ratio)
        async with self.http(ctx) as client:
            api = openai_images.OpenAIImagesClient(
                client, url or "https://api.openai.com/v1/", key, timeout=self.tuning(ctx).timeout
            )
            if inputs:
                pictures = await api.edit(
                    model=self.model, prompt=args.prompt, images=inputs, size=size
                )
            else:
                pictures = await api.generate(model=self.model, prompt=args.prompt, size=size)
        return [await publish_image(ctx, p, metadata=self.metadata(args)) for p in pictures]


class ReplicateImageTool(ProviderTool):
    """Replicate model predictions; Flux Kontext gets the first input image."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        model_input: dict[str, Any] = {"prompt": args.prompt, "aspect_ratio": args.aspect_ratio}
        inputs = await self.inputs(ctx, getattr(args, "input_images", None))
        if inputs:
            model_input["input_image"] = inputs[0].data_url()
        async with self.http(ctx) as client:
            api = replicate.ReplicateClient(
                client,
                key,
                url or replicate.DEFAULT_URL,
                poll_policy=self.tuning(ctx).poll(replicate.DEFAULT_POLL),
                timeout=self.tuning(ctx).timeout,
            )
            urls = await api.run(self.model, model_input)
            return await self.publish_urls(ctx, client, urls[:1], args)


class VolcesImageTool(ProviderTool):
    """Volcengine Seedream text to image."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        body = {
            "model": self.model,
            "prompt": args.prompt,
            "size": volces.seedream_size(args.aspect_ratio),
        }
        async with self.http(ctx) as client:
            api = volces.VolcesClient(
                client, url or volces.DEFAULT_URL, key, timeout=self.tuning(ctx).timeout
            )
            pictures = await api.generate_image(body)
        return [await publish_image(ctx, p, metadata=self.metadata(args)) for p in pictures]


class VolcesEditTool(ProviderTool):
    """Volcengine SeedEdit: the first of `image` edited by the prompt."""

    async def generate(self, args: Any, ctx: ToolContext) -> list[MediaOutput]:
        url, key = self.credentials(ctx)
        inputs = await self.inputs(ctx, args.image, field="image")
        if not inputs:
            raise ToolError(f"{self.display_name}: image: at least one picture is required")
        body = {
            "model": self.model,
            "prompt": args.prompt,
            "image": inputs[0].data_url(),
            "size": "adaptive",
            "seed": secrets.randbelow(2**31 - 1),
            "guidance_scale": 5.5,
        }
        async with self.http(ctx) as client:
            api = volces.VolcesClient(
                client, url or volces.DEFAULT_URL, key, timeout=self.tuning(ctx).timeout
            )
            pictures = await api.generate_image(body)
        return [await publish_image(ctx, p, metadata=self.metadata(args)) for p in pictures]


def image_tool(spec: Any) -> ProviderTool:
    """The image tool for a row of the static table (or an openai model of config.toml)."""
    name = spec.display_name
    if spec.provider == "jaaz" and spec.model == "midjourney":
        return MidjourneyTool(spec, MidjourneyArgs, f"Generate four images with {name}.")
    if spec.provider == "jaaz":
        takes_inputs = spec.model.startswith("openai/") or "kontext" in spec.model
        if takes_inputs:
            return JaazImageTool(spec, ImageWithInputsArgs, WITH_INPUTS.format(name=name))
        return JaazImageTool(spec, ImageArgs, TEXT_TO_IMAGE.format(name=name))
    if spec.provider == "openai":
        return OpenAIImageTool(spec, ImageWithInputsArgs, WITH_INPUTS.format(name=name))
    if spec.provider == "replicate":
        if "kontext" in spec.model:
            return ReplicateImageTool(spec, ImageWithInputsArgs, WITH_INPUTS.format(name=name))
        return ReplicateImageTool(spec, ImageArgs, TEXT_TO_IMAGE.format(name=name))
    if spec.provider == "volces" and spec.id.startswith("edit_"):
        return VolcesEditTool(
            spec, SeedEditArgs, f"Edit a picture with {name} following the prompt."
        )
    if spec.provider == "volces":
        return VolcesImageTool(spec, ImageArgs, TEXT_TO_IMAGE.format(name=name))
    raise ValueError(f"no image tool for provider {spec.provider!r}")
