"""OpenAI Images API client: generations (JSON) and edits (multipart)."""

from __future__ import annotations

from typing import Any

import httpx

from muralist.tools.providers.common import (
    DEFAULT_TIMEOUT,
    MAX_IMAGE_BYTES,
    InputImage,
    ProviderError,
    decode_b64,
    download,
    endpoint,
    json_object,
    send,
)

PROVIDER = "openai"

# Sizes each model family accepts, keyed by orientation.
_GPT_IMAGE_SIZES = {"square": "1024x1024", "landscape": "1536x1024", "portrait": "1024x1536"}
_DALLE3_SIZES = {"square": "1024x1024", "landscape": "1792x1024", "portrait": "1024x1792"}


def orientation(aspect_ratio: str) -> str:
    """square, landscape or portrait for an `W:H` ratio (unknown ratios are square)."""
    try:
        width, height = (float(part) for part in aspect_ratio.split(":"))
    except ValueError:
        return "square"
    if width > height:
        return "landscape"
    if height > width:
        return "portrait"
    return "square"


def image_size(model: str, aspect_ratio: str) -> str:
    """The `size` parameter closest to the aspect ratio that the model supports."""
    shape = orientation(aspect_ratio)
    if model.startswith("dall-e-2"):
        return "1024x1024"
    if model.startswith("dall-e"):
        return _DALLE3_SIZES[shape]
    return _GPT_IMAGE_SIZES[shape]


class OpenAIImagesClient:
    """Calls `<base>/images/generations` and `<base>/images/edits` with a Bearer key."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self._client = client
        self._base = base_url
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = timeout
        self._max_bytes = max_bytes

    async def generate(self, *, model: str, prompt: str, size: str, n: int = 1) -> list[bytes]:
        """Text to image; returns the encoded pictures as the API sent them."""
        body: dict[str, Any] = {"model": model, "prompt": prompt, "n": n, "size": size}
        if model.startswith("dall-e"):
            # gpt-image models always answer base64 and reject this parameter.
            body["response_format"] = "b64_json"
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, "images/generations"),
            json=body,
            headers=self._headers,
            timeout=self._timeout,
        )
        return await self._pictures(json_object(PROVIDER, response))

    async def edit(
        self, *, model: str, prompt: str, images: list[InputImage], size: str, n: int = 1
    ) -> list[bytes]:
        """Image(s) plus prompt to image, sent as multipart like the official SDK does."""
        if not images:
            raise ProviderError(PROVIDER, "an edit needs at least one input image")
        field = "image" if len(images) == 1 else "image[]"
        files = [(field, (image.name, image.data, image.mime_type)) for image in images]
        data = {"model": model, "prompt": prompt, "n": str(n), "size": size}
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, "images/edits"),
            data=data,
            files=files,
            headers=self._headers,
            timeout=self._timeout,
        )
        return await self._pictures(json_object(PROVIDER, response))

    async def _pictures(self, body: dict[str, Any]) -> list[bytes]:
        items = body.get("data")
        if not isinstance(items, list) or not items:
            raise ProviderError(PROVIDER, "the answer holds no image")
        pictures = []
        for item in items:
            if isinstance(item, dict) and item.get("b64_json"):
                pictures.append(decode_b64(PROVIDER, item["b64_json"]))
            elif isinstance(item, dict) and item.get("url"):
                data, _ = await download(PROVIDER, self._client, item["url"], self._max_bytes)
                pictures.append(data)
            else:
                raise ProviderError(PROVIDER, "an image in the answer has neither b64_json nor url")
        return pictures
