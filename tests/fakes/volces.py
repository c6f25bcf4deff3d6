"""A loopback fake of Volcengine Ark: images and Seedance video generation tasks.

`POST /api/v3/images/generations` answers `{data: [{url}]}`; `POST /api/v3/contents/generations/
tasks` answers `{id}`; `GET .../tasks/{id}` moves `queued` -> `running` -> `succeeded` (or
`failed`) after `polls_needed` checks, or never with `endless`; `DELETE .../tasks/{id}` cancels
a queued task. Errors use Ark's shape `{"error": {"code", "message", "param", "type"}}`.
"""

from __future__ import annotations

import itertools
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.provider_base import FakeProvider, jpeg_bytes, mp4_bytes

_ids = itertools.count(1)


def ark_error(status: int, message: str, code: str = "InvalidParameter") -> JSONResponse:
    body = {"error": {"code": code, "message": message, "param": "", "type": "BadRequest"}}
    return JSONResponse(body, status_code=status)


class FakeVolces(FakeProvider):
    """Ark on loopback; `base_url` ends in `/api/v3/` like the real one."""

    api_key = "ark-test"
    auth_message = "The API key in the request is missing or invalid."

    def error(self, status: int, message: str) -> Response:
        return ark_error(
            status, message, "AuthenticationError" if status == 401 else "InvalidParameter"
        )

    def knobs(self) -> None:
        self.polls_needed = 1
        self.endless = False
        self.outcome = "succeeded"
        self.video_size = (640, 360)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.cancelled: list[str] = []

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v3/"

    def __enter__(self) -> FakeVolces:
        super().__enter__()
        return self

    def app(self) -> Starlette:
        base = "/api/v3"
        return Starlette(
            routes=[
                Route(f"{base}/images/generations", self._images, methods=["POST"]),
                Route(f"{base}/contents/generations/tasks", self._create, methods=["POST"]),
                Route(
                    f"{base}/contents/generations/tasks/{{tid}}",
                    self._task,
                    methods=["GET", "DELETE"],
                ),
                *self.routes(),
            ]
        )

    async def _images(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        body = entry.body
        if not body.get("prompt") or not body.get("model"):
            return ark_error(400, "The parameter `prompt` specified in the request is not valid.")
        url = self.add_file(f"img{next(_ids)}.jpeg", jpeg_bytes(72, 54), "image/jpeg")
        return JSONResponse({"model": body["model"], "created": 1720000000, "data": [{"url": url}]})

    async def _create(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        body = entry.body
        content = body.get("content")
        if not body.get("model") or not isinstance(content, list) or not content:
            return ark_error(400, "The parameter `content` specified in the request is not valid.")
        tid = f"cgt-{next(_ids)}"
        self.tasks[tid] = {"id": tid, "model": body["model"], "status": "queued", "_polls": 0}
        return JSONResponse({"id": tid})

    async def _task(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, poll=request.method == "GET")
        if refusal:
            return refusal
        task = self.tasks.get(request.path_params["tid"])
        if task is None:
            return ark_error(404, "The specified task is not found.", "NotFound")
        if request.method == "DELETE":
            self.cancelled.append(task["id"])
            if task["status"] == "running":
                return ark_error(400, "A running task cannot be cancelled.", "InvalidAction")
            if task["status"] == "queued":
                task["status"] = "cancelled"
            return JSONResponse({})
        if task["status"] in ("queued", "running"):
            task["_polls"] += 1
            task["status"] = (
                "running" if self.endless or task["_polls"] < self.polls_needed else self._end(task)
            )
        return JSONResponse({k: v for k, v in task.items() if not k.startswith("_")})

    def _end(self, task: dict[str, Any]) -> str:
        if self.outcome == "failed":
            task["error"] = {
                "code": "OutputVideoSensitiveContentDetected",
                "message": "The video may contain sensitive content.",
            }
            return "failed"
        url = self.add_file(f"{task['id']}.mp4", mp4_bytes(*self.video_size), "video/mp4")
        task["content"] = {"video_url": url}
        return "succeeded"
