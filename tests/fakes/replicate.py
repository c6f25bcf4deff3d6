"""A loopback fake of Replicate's predictions API.

`POST /v1/models/{owner}/{name}/predictions` (honours `Prefer: wait=N`), `GET /v1/predictions/{id}`,
`POST /v1/predictions/{id}/cancel`. Knobs: `polls_needed` (how many GETs before a prediction
ends; 0 means it is finished when created), `endless` (never ends), `wait_scale` (real seconds
the fake holds a create per second of `Prefer: wait` when the prediction outlasts the wait;
`held` lists the waits so spent), `outcome` (`succeeded` or
`failed` with `failure_reason`), `output_as_list`, `cancel_gate` (a threading.Event; clear it
to hold cancel calls, recorded, until it is set again). Errors use Replicate's problem shape
`{"title", "detail", "status"}`.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.provider_base import FakeProvider, png_bytes

_ids = itertools.count(1)


def replicate_error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"title": "Request failed", "detail": detail, "status": status}, status_code=status
    )


class FakeReplicate(FakeProvider):
    """Replicate on loopback; `base_url` ends in `/v1/`."""

    api_key = "r8_test"
    auth_message = "You did not pass a valid authentication token"

    def error(self, status: int, message: str) -> Response:
        return replicate_error(status, message)

    def knobs(self) -> None:
        self.polls_needed = 0
        self.endless = False
        self.outcome = "succeeded"
        self.failure_reason = "NSFW content detected"
        self.output_as_list = False
        self.predictions: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []
        self.wait_scale = 0.01
        self.held: list[int] = []
        self.cancel_gate = threading.Event()
        self.cancel_gate.set()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1/"

    def __enter__(self) -> FakeReplicate:
        super().__enter__()
        return self

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models/{owner}/{name}/predictions", self._create, methods=["POST"]),
                Route("/v1/predictions/{pid}", self._get, methods=["GET"]),
                Route("/v1/predictions/{pid}/cancel", self._cancel, methods=["POST"]),
                *self.routes(),
            ]
        )

    async def _create(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        body = entry.body
        model_input = body.get("input")
        if not isinstance(model_input, dict) or not model_input.get("prompt"):
            return replicate_error(422, "input: prompt is required")
        pid = f"pred{next(_ids)}"
        prediction: dict[str, Any] = {
            "id": pid,
            "model": f"{request.path_params['owner']}/{request.path_params['name']}",
            "input": model_input,
            "status": "starting",
            "output": None,
            "error": None,
            "urls": {
                "get": f"{self.origin}/v1/predictions/{pid}",
                "cancel": f"{self.origin}/v1/predictions/{pid}/cancel",
            },
            "_polls": 0,
        }
        self.predictions[pid] = prediction
        wait_s = _prefer_wait(entry.headers.get("prefer", ""))
        if wait_s is not None and self.polls_needed == 0 and not self.endless:
            self._finish(prediction)
        elif wait_s is not None:
            # Replicate holds the answer until the model ends or the wait runs out; this
            # prediction only moves when polled, so the whole wait passes first.
            self.held.append(wait_s)
            await asyncio.sleep(wait_s * self.wait_scale)
        return JSONResponse(_public(prediction), status_code=201)

    async def _get(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, poll=True)
        if refusal:
            return refusal
        prediction = self.predictions.get(request.path_params["pid"])
        if prediction is None:
            return replicate_error(404, "Not found.")
        if prediction["status"] in ("starting", "processing"):
            prediction["_polls"] += 1
            prediction["status"] = "processing"
            if not self.endless and prediction["_polls"] >= self.polls_needed:
                self._finish(prediction)
        return JSONResponse(_public(prediction))

    async def _cancel(self, request: Request) -> Response:
        entry, refusal = await self.admit(request)
        if refusal:
            return refusal
        if not self.cancel_gate.is_set():
            await asyncio.to_thread(self.cancel_gate.wait, 30)
        prediction = self.predictions.get(request.path_params["pid"])
        if prediction is None:
            return replicate_error(404, "Not found.")
        self.cancelled.append(prediction["id"])
        if prediction["status"] in ("starting", "processing"):
            prediction["status"] = "canceled"
        return JSONResponse(_public(prediction))

    def _finish(self, prediction: dict[str, Any]) -> None:
        if self.outcome == "failed":
            prediction["status"] = "failed"
            prediction["error"] = self.failure_reason
            return
        url = self.add_file(f"{prediction['id']}.png", png_bytes(80, 60), "image/png")
        prediction["status"] = "succeeded"
        prediction["output"] = [url] if self.output_as_list else url


def _prefer_wait(prefer: str) -> int | None:
    """Seconds asked for by `Prefer: wait` or `wait=N` (bare `wait` is 60); None without it."""
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip() == "wait":
            return int(value) if value.strip().isdigit() else 60
    return None


def _public(prediction: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prediction.items() if not k.startswith("_")}
