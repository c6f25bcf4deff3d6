"""Replicate predictions client: create with a short `Prefer: wait`, then poll, cancel on abort."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from muralist.tools.providers.common import (
    DEFAULT_TIMEOUT,
    PollPolicy,
    ProviderError,
    cancel_quietly,
    endpoint,
    json_object,
    poll,
    send,
    task_may_be_running,
)

logger = logging.getLogger(__name__)

PROVIDER = "replicate"
DEFAULT_URL = "https://api.replicate.com/v1/"
DEFAULT_POLL = PollPolicy(interval_s=2.0, max_polls=300)
_DONE = {"succeeded", "failed", "canceled"}
# Replicate holds a create call up to this many seconds (it accepts 1..60) and answers early
# when the model ends: quick models come back in one call, long ones return their id soon
# enough to be polled and, on a cancel, stopped with predictions/{id}/cancel.
DEFAULT_WAIT_S = 5


def output_urls(output: Any) -> list[str]:
    """The result URLs of a prediction's `output` (a string, a list, or a dict of them)."""
    if isinstance(output, str):
        return [output]
    if isinstance(output, list):
        return [url for item in output for url in output_urls(item)]
    if isinstance(output, dict):
        return [url for item in output.values() for url in output_urls(item)]
    return []


class ReplicateClient:
    """Runs one model prediction to completion and returns its output URLs."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        base_url: str = DEFAULT_URL,
        *,
        poll_policy: PollPolicy = DEFAULT_POLL,
        wait_s: int = DEFAULT_WAIT_S,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = client
        self._base = base_url or DEFAULT_URL
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._poll = poll_policy
        self._wait_s = min(max(wait_s, 1), 60)
        self._timeout = timeout

    async def run(self, model: str, model_input: dict[str, Any]) -> list[str]:
        """Create a prediction for `owner/name` and wait for its output URLs."""
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, f"models/{model}/predictions"),
            json={"input": model_input},
            headers={**self._headers, "Prefer": f"wait={self._wait_s}"},
            timeout=self._timeout,
        )
        prediction = json_object(PROVIDER, response)
        prediction_id = str(prediction.get("id") or "")
        try:
            if prediction.get("status") not in _DONE:
                if not prediction_id:
                    raise ProviderError(PROVIDER, "the prediction has no id to poll")
                prediction = await poll(PROVIDER, self._poll, lambda: self._check(prediction_id))
        except (asyncio.CancelledError, ProviderError) as exc:
            # Stop paying for a prediction nobody will read (cancelled, polled out, or the
            # provider stopped answering our checks).
            if prediction_id and task_may_be_running(exc):
                await cancel_quietly(PROVIDER, lambda: self.cancel(prediction_id))
            raise
        return self._finish(prediction)

    async def cancel(self, prediction_id: str) -> None:
        """Ask Replicate to stop a prediction."""
        response = await send(
            PROVIDER,
            self._client,
            "POST",
            endpoint(self._base, f"predictions/{prediction_id}/cancel"),
            headers=self._headers,
            timeout=httpx.Timeout(30.0),
        )
        json_object(PROVIDER, response)
        logger.info("replicate: cancelled prediction %s", prediction_id)

    async def _check(self, prediction_id: str) -> dict[str, Any] | None:
        response = await send(
            PROVIDER,
            self._client,
            "GET",
            endpoint(self._base, f"predictions/{prediction_id}"),
            headers=self._headers,
            timeout=self._timeout,
        )
        prediction = json_object(PROVIDER, response)
        return prediction if prediction.get("status") in _DONE else None

    def _finish(self, prediction: dict[str, Any]) -> list[str]:
        status = prediction.get("status")
        if status == "failed":
            raise ProviderError(
                PROVIDER, f"the prediction failed: {prediction.get('error') or 'no reason given'}"
            )
        if status == "canceled":
            raise ProviderError(PROVIDER, "the prediction was cancelled")
        urls = output_urls(prediction.get("output"))
        if not urls:
            raise ProviderError(PROVIDER, "the prediction succeeded without an output URL")
        return urls
