"""A loopback fake of the OpenAI Images API: `POST /v1/images/generations` (JSON) and
`POST /v1/images/edits` (multipart with `image` or `image[]` parts).

gpt-image models answer `b64_json`; with `answer_urls = True` the fake answers `url` items
pointing at its own `/files/` route (what dall-e models do). Errors use OpenAI's shape
`{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.provider_base import FakeProvider, png_bytes


def openai_error(status: int, message: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status)


def _size(value: Any) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in str(value).split("x"))
    except ValueError:
        return 1024, 1024
    # Small pictures of the asked shape keep the tests fast.
    return max(1, width // 16), max(1, height // 16)


def _color(prompt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


class FakeOpenAIImages(FakeProvider):
    """OpenAI images on loopback; `base_url` ends in `/v1/` like the real one."""

    api_key = "sk-test-openai"
    auth_message = "Incorrect API key provided."

    def error(self, status: int, message: str) -> Response:
        return openai_error(status, message)

    def knobs(self) -> None:
        self.answer_urls = False

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1/"

    def __enter__(self) -> FakeOpenAIImages:
        super().__enter__()
        return self

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/images/generations", self._generations, methods=["POST"]),
                Route("/v1/images/edits", self._edits, methods=["POST"]),
                *self.routes(),
            ]
        )

    async def _generations(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        body = entry.body
        if not body.get("prompt"):
            return openai_error(400, "Missing required parameter: 'prompt'.")
        if "response_format" in body and str(body.get("model", "")).startswith("gpt-image"):
            return openai_error(400, "Unknown parameter: 'response_format'.")
        return self._answer(body.get("prompt", ""), body.get("size"), int(body.get("n", 1)))

    async def _edits(self, request: Request) -> Response:
        entry, refusal = await self.admit(request, create=True)
        if refusal:
            return refusal
        images = entry.files.get("image", []) + entry.files.get("image[]", [])
        if not images:
            return openai_error(400, "Missing required parameter: 'image'.")
        prompt = str(entry.form.get("prompt", ""))
        if not prompt:
            return openai_error(400, "Missing required parameter: 'prompt'.")
        return self._answer(prompt, entry.form.get("size"), int(entry.form.get("n", 1)))

    def _answer(self, prompt: str, size: Any, n: int) -> JSONResponse:
        width, height = _size(size)
        data = []
        for index in range(n):
            picture = png_bytes(width, height, _color(prompt))
            if self.answer_urls:
                url = self.add_file(f"img-{len(self.requests)}-{index}.png", picture, "image/png")
                data.append({"url": url})
            else:
                data.append({"b64_json": base64.b64encode(picture).decode()})
        return JSONResponse({"created": 1720000000, "data": data})
