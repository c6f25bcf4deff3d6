"""A loopback fake of the Jaaz cloud API of contract section 15 (base `/api/v1`).

Image generations answer `{created, data: [{url}]}` at once; video, Midjourney and magic calls
answer `{task_id}` and `GET /task/{id}` moves `processing` -> `succeeded` (or `failed`) after
`polls_needed` checks, or never with `endless`. `lose_generation = True` makes the next image
generation fail with 502 while the picture is still made, so `POST /task/search` finds it.
`answer_gate` (a threading.Event) held clear makes image generations finish the picture at once
but hold the answer until it is set: a client that times out meanwhile finds it by search.
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

from tests.fakes.provider_base import FakeProvider, mp4_bytes, png_bytes

_ids = itertools.count(1)
TASK_PATHS = (
    "video/sunra/generations",
    "video/seedance/generation",
    "image/midjourney/generation",
    "image/magic",
)


def jaaz_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


class FakeJaazCloud(FakeProvider):
    """The Jaaz cloud on loopback; `base_url` is `<origin>/api/v1/` (what config.toml holds)."""

    api_key = "jaaz-token"
    auth_message = "Invalid token"

    def error(self, status: int, message: str) -> Response:
        return jaaz_error(status, message)

    def knobs(self) -> None:
        self.polls_needed = 1
        self.endless = False
        self.outcome = "succeeded"
        self.lose_generation = False
        self.video_size = (480, 480)
        self.tasks: dict[str, dict[str, Any]] = {}
        self.by_prompt: dict[str, dict[str, Any]] = {}
        self.answer_gate = threading.Event()
        self.answer_gate.set()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v1/"

    def __enter__(self) -> FakeJaazCloud:
        super().__enter__()
        return self

    def app(self) -> Starlette:
        routes = [
            Route("/api/v1/image/generations", self._image, methods=["POST"]),
            Route("/api/v1/task/search", self._search, methods=["POST"]),
            Route("/api/v1/task/{tid}", self._task, methods=["GET"]),
        ]
        routes += [Route(f"/api/v1/{path}", self._create, methods=["POST"]) for path in TASK_PATHS]
        return Starlette(routes=[*routes, *self.routes()])

    async def _image(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        body = entry.body
        if not body.get("prompt") or not body.get("model"):
            return jaaz_error(422, "prompt and model are required")
        url = self.add_file(f"jimg{next(_ids)}.png", png_bytes(60, 40), "image/png")
        task = {"id": f"t{next(_ids)}", "status": "succeeded", "result_url": url}
        self.by_prompt[str(body["prompt"])] = task
        if self.lose_generation:
            self.lose_generation = False
            return jaaz_error(502, "Bad gateway")
        gate = self.answer_gate
        if not gate.is_set():
            await asyncio.to_thread(gate.wait, 30)
        return JSONResponse({"created": 1720000000, "data": [{"url": url}]})

    async def _search(self, request: Request) -> Response:
        entry, refusal = await self.admit(request)
        if refusal:
            return refusal
        body = entry.body
        task = self.by_prompt.get(str(body.get("prompt")))
        return JSONResponse({"success": True, "data": {"found": task is not None, "task": task}})

    async def _create(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        body = entry.body
        kind = request.url.path.removeprefix("/api/v1/")
        if kind == "image/magic" and not str(body.get("image", "")).startswith("data:"):
            return jaaz_error(422, "image must be a data URL")
        if kind != "image/magic" and not body.get("prompt"):
            return jaaz_error(422, "prompt is required")
        tid = f"task{next(_ids)}"
        self.tasks[tid] = {"id": tid, "kind": kind, "status": "processing", "_polls": 0}
        return JSONResponse({"task_id": tid})

    async def _task(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, poll=True)
        if refusal:
            return refusal
        task = self.tasks.get(request.path_params["tid"])
        if task is None:
            return JSONResponse({"success": True, "data": {"found": False}})
        if task["status"] == "processing":
            task["_polls"] += 1
            if not self.endless and task["_polls"] >= self.polls_needed:
                self._end(task)
        public = {k: v for k, v in task.items() if not k.startswith("_")}
        return JSONResponse({"success": True, "data": {"found": True, "task": public}})

    def _end(self, task: dict[str, Any]) -> None:
        if self.outcome == "failed":
            task["status"] = "failed"
            task["error"] = "content policy violation"
            return
        task["status"] = "succeeded"
        if task["kind"].startswith("video/"):
            task["result_url"] = self.add_file(
                f"{task['id']}.mp4", mp4_bytes(*self.video_size), "video/mp4"
            )
        elif task["kind"] == "image/midjourney/generation":
            images = []
            for index in range(4):
                url = self.add_file(f"{task['id']}-{index}.png", png_bytes(50, 50), "image/png")
                images.append({"url": url, "file_size": 100, "content_type": "image/png"})
            task["result"] = {"images": images}
            task["result_url"] = images[0]["url"]
        else:
            task["result_url"] = self.add_file(f"{task['id']}.png", png_bytes(100, 80), "image/png")
