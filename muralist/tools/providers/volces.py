"""Volcengine Ark client: image generations and Seedance video generation tasks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from muralist.tools.providers.common import (
    DEFAULT_TIMEOUT,
    MAX_IMAGE_BYTES,
    MAX_VIDEO_BYTES,
    PollPolicy,
    ProviderError,
    cancel_quietly,
    decode_b64,
    download,
    endpoint,
    json_object,
    poll,
    send,
    task_may_be_running,
)

logger = logging.getLogger(__name__)

PROVIDER = "volces"
DEFAULT_URL = "https://ark.cn-beijing.volces.com/api/v3/"
# Seedance runs take one to five minutes; 200 checks 3 s apart leave room for a busy queue.
DEFAULT_POLL = PollPolicy(interval_s=3.0, max_polls=200)

# The sizes Seedream 3 recommends for each ratio (about one megapixel).
SEEDREAM_SIZES = {
    "1:1": "1024x1024",
    "4:3": "1152x864",
    "3:4": "864x1152",
    "16:9": "1280x720",
    "9:16": "720x1280",
    "3:2": "1248x832",
    "2:3": "832x1248",
    "21:9": "1512x648",
}


def seedream_size(aspect_ratio: str) -> str:
    """The `size` for a ratio; unknown ratios get the square size."""
    return SEEDREAM_SIZES.get(aspect_ratio, "1024x1024")


def seedance_text(
    prompt: str, *, resolution: str, duration: int, camera_fixed: bool, aspect_ratio: str | None
) -> str:
    """The prompt with Seedance's inline parameters appended."""
    text = (
        f"{prompt} --resolution {resolution} --dur {duration} "
        f"--camerafixed {'true' if camera_fixed else 'false'} --wm false"
    )
    if aspect_ratio:
        text += f" --rt {aspect_ratio}"
    return text


class VolcesClient:
    """Ark images and contents/generations/tasks with a Bearer key."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        *,
        poll_policy: PollPolicy = DEFAULT_POLL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        max_video_bytes: int = MAX_VIDEO_BYTES,
    ) -> None:
        self._client = client
        self._base = base_url or DEFAULT_URL
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._poll = poll_policy
        self._timeout = timeout
        self._max_image = max_image_bytes
        self._max_video = max_video_bytes

    async def generate_image(self, body: dict[str, Any]) -> list[bytes]:
        """POST images/generations (text to image, or image edit with `image`)."""
        payload = {"response_format": "url", "watermark": False, **body}
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, "images/generations"),
            json=payload,
            headers=self._headers,
            timeout=self._timeout,
        )
        items = json_object(PROVIDER, response).get("data")
        if not isinstance(items, list) or not items:
            raise ProviderError(PROVIDER, "the answer holds no image")
        pictures = []
        for item in items:
            if isinstance(item, dict) and item.get("url"):
                data, _ = await download(PROVIDER, self._client, item["url"], self._max_image)
                pictures.append(data)
            elif isinstance(item, dict) and item.get("b64_json"):
                pictures.append(decode_b64(PROVIDER, item["b64_json"]))
            else:
                raise ProviderError(PROVIDER, "an image in the answer has no url")
        return pictures

    async def generate_video(self, model: str, content: list[dict[str, Any]]) -> bytes:
        """Create a video task, poll it to the end and download the video."""
        task_id = await self._create_task(model, content)
        try:
            task = await poll(PROVIDER, self._poll, lambda: self._check(task_id))
        except (asyncio.CancelledError, ProviderError) as exc:
            if task_may_be_running(exc):
                await cancel_quietly(PROVIDER, lambda: self.cancel(task_id))
            raise
        status = task.get("status")
        if status != "succeeded":
            error = task.get("error") or {}
            reason = error.get("message") if isinstance(error, dict) else str(error)
            raise ProviderError(PROVIDER, f"the video task {status}: {reason or 'no reason given'}")
        url = (task.get("content") or {}).get("video_url")
        if not url:
            raise ProviderError(PROVIDER, "the video task succeeded without a video_url")
        data, _ = await download(PROVIDER, self._client, url, self._max_video)
        return data

    async def cancel(self, task_id: str) -> None:
        """DELETE the task: Ark cancels it while it is still queued."""
        response = await send(
            PROVIDER,
            self._client,
            "DELETE",
            endpoint(self._base, f"contents/generations/tasks/{task_id}"),
            headers=self._headers,
            timeout=httpx.Timeout(30.0),
        )
        if not response.is_success and response.status_code != 404:
            json_object(PROVIDER, response)
        logger.info("volces: cancelled video task %s", task_id)

    async def _create_task(self, model: str, content: list[dict[str, Any]]) -> str:
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, "contents/generations/tasks"),
            json={"model": model, "content": content},
            headers=self._headers,
            timeout=self._timeout,
        )
        task_id = json_object(PROVIDER, response).get("id")
        if not task_id:
            raise ProviderError(PROVIDER, "the task was created without an id")
        return str(task_id)

    async def _check(self, task_id: str) -> dict[str, Any] | None:
        response = await send(
            PROVIDER,
            self._client,
            "GET",
            endpoint(self._base, f"contents/generations/tasks/{task_id}"),
            headers=self._headers,
            timeout=self._timeout,
        )
        task = json_object(PROVIDER, response)
        return task if task.get("status") in ("succeeded", "failed", "cancelled") else None
