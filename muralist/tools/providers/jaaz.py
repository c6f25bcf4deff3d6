"""Jaaz cloud client (contract section 15): image generations, cloud tasks, magic."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from muralist.tools.providers.common import (
    DEFAULT_TIMEOUT,
    PollPolicy,
    ProviderError,
    endpoint,
    json_object,
    poll,
    send,
)

logger = logging.getLogger(__name__)

PROVIDER = "jaaz"
VIDEO_POLL = PollPolicy(interval_s=2.0, max_polls=150)
MAGIC_POLL = PollPolicy(interval_s=5.0, max_polls=120)
# When the generation call itself fails, the cloud may still finish the picture: look it up
# by prompt a bounded number of times before giving up.
SEARCH_POLL = PollPolicy(interval_s=3.0, max_polls=5)
_DONE = {"succeeded", "failed", "cancelled"}


class JaazClient:
    """Calls `<jaaz url>/...` (the URL ends in /api/v1/) with the user's access token."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str,
        *,
        task_poll: PollPolicy = VIDEO_POLL,
        magic_poll: PollPolicy = MAGIC_POLL,
        search_poll: PollPolicy = SEARCH_POLL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = client
        self._base = base_url
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._task_poll = task_poll
        self._magic_poll = magic_poll
        self._search_poll = search_poll
        self._timeout = timeout

    async def generate_image(
        self, *, model: str, prompt: str, aspect_ratio: str, input_images: list[str]
    ) -> list[str]:
        """POST image/generations; returns result URLs (input images are data URLs)."""
        body: dict[str, Any]
        if model.startswith("openai/"):
            body = {
                "model": model,
                "prompt": f"{prompt} Aspect ratio: {aspect_ratio}",
                "n": 1,
                "size": "auto",
                "mask": None,
            }
            if input_images:
                body["input_images"] = input_images
        else:
            body = {"prompt": prompt, "model": model, "aspect_ratio": aspect_ratio}
            if input_images:
                body["input_image"] = input_images[0]
        try:
            answer = await self._post("image/generations", body)
        except ProviderError as exc:
            # A refusal (4xx) is final; a lost answer (5xx, timeout) may have a finished task.
            if exc.status is not None and exc.status < 500:
                raise
            logger.warning("jaaz: image generation failed (%s); searching the task", exc.message)
            url = await self._search(prompt, exc)
            return [url]
        urls = [
            item["url"]
            for item in answer.get("data") or []
            if isinstance(item, dict) and item.get("url")
        ]
        if not urls:
            raise ProviderError(PROVIDER, "the answer holds no image URL")
        return urls

    async def run_task(
        self, path: str, body: dict[str, Any], policy: PollPolicy | None = None
    ) -> dict[str, Any]:
        """POST a task-creating call, then poll task/<id> until it succeeded; return the task."""
        answer = await self._post(path, body)
        task_id = answer.get("task_id")
        if not task_id:
            raise ProviderError(PROVIDER, f"{path} answered without a task_id")
        # The Jaaz cloud has no cancel call: a cancelled run just stops polling.
        task = await poll(PROVIDER, policy or self._task_poll, lambda: self._check(str(task_id)))
        if task.get("status") != "succeeded":
            raise ProviderError(
                PROVIDER,
                f"task {task_id} {task.get('status')}: {task.get('error') or 'no reason given'}",
            )
        return task

    async def magic(self, image_data_url: str) -> str:
        """POST image/magic and wait for the result URL."""
        task = await self.run_task("image/magic", {"image": image_data_url}, self._magic_poll)
        url = task.get("result_url")
        if not url:
            raise ProviderError(PROVIDER, "the magic task succeeded without a result_url")
        return str(url)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, path),
            json=body,
            headers=self._headers,
            timeout=self._timeout,
        )
        return json_object(PROVIDER, response)

    async def _check(self, task_id: str) -> dict[str, Any] | None:
        response = await send(
            PROVIDER,
            self._client,
            "GET",
            endpoint(self._base, f"task/{task_id}"),
            headers=self._headers,
            timeout=self._timeout,
        )
        data = json_object(PROVIDER, response).get("data") or {}
        if not data.get("found", True):
            raise ProviderError(PROVIDER, f"task {task_id} is unknown to the cloud")
        task = data.get("task") or {}
        status = task.get("status")
        if status in _DONE:
            return task
        if status not in (None, "processing", "pending", "queued", "running"):
            raise ProviderError(PROVIDER, f"task {task_id} has an unknown status {status!r}")
        return None

    async def _search(self, prompt: str, cause: ProviderError) -> str:
        async def found() -> str | None:
            answer = await self._post("task/search", {"prompt": prompt, "type": "image"})
            data = answer.get("data") or {}
            task = data.get("task") or {}
            if data.get("found") and task.get("status") in ("failed", "cancelled"):
                # Not transient, so the poll ends here; the caller reports `cause`.
                raise ProviderError(PROVIDER, f"the image task {task.get('status')}")
            if not data.get("found") or task.get("status") != "succeeded":
                return None
            return str(task["result_url"]) if task.get("result_url") else None

        try:
            return await poll(PROVIDER, self._search_poll, found)
        except ProviderError:
            raise cause from None
