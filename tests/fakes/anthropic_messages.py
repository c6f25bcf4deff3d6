"""A loopback fake of Anthropic's messages API (`POST /v1/messages`, streaming SSE or JSON).

Replies are `tests.fakes.llm_script.Reply` objects, like the OpenAI fake: text, tool calls whose
`input_json_delta`s arrive in fragments, usage in `message_start` / `message_delta`, HTTP errors
with Anthropic's error body, stalls, slow streams, dropped connections and garbage lines.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.llm_script import Reply, ScriptedModel, ThreadedServer, ToolCallScript, tool

__all__ = ["FakeAnthropic", "Reply", "ToolCallScript", "tool"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def stream_events(reply: Reply, model: str) -> list[bytes]:
    """Every SSE event of a streamed reply, in the order Anthropic sends them."""
    usage = reply.usage or (0, 0)
    events = [
        _event(
            "message_start",
            {
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": usage[0], "output_tokens": 1},
                }
            },
        )
    ]
    index = 0
    if reply.text_chunks():
        events.append(
            _event(
                "content_block_start",
                {"index": index, "content_block": {"type": "text", "text": ""}},
            )
        )
        for text in reply.text_chunks():
            events.append(
                _event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "text_delta", "text": text}},
                )
            )
        events.append(_event("content_block_stop", {"index": index}))
        index += 1
    for call in reply.tool_calls:
        events.append(
            _event(
                "content_block_start",
                {
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": {},
                    },
                },
            )
        )
        for fragment in call.pieces():
            events.append(
                _event(
                    "content_block_delta",
                    {
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": fragment},
                    },
                )
            )
        events.append(_event("content_block_stop", {"index": index}))
        index += 1
    stop = reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")
    events.append(
        _event(
            "message_delta",
            {
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage[1]},
            },
        )
    )
    events.append(_event("message_stop", {}))
    return events


def message_body(reply: Reply, model: str) -> dict[str, Any]:
    """The non-streamed message object for a reply."""
    content: list[dict[str, Any]] = []
    text = reply.text or "".join(reply.text_chunks())
    if text:
        content.append({"type": "text", "text": text})
    for call in reply.tool_calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": json.loads(call.arguments or "{}"),
            }
        )
    usage = reply.usage or (0, 0)
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


class FakeAnthropic(ScriptedModel):
    """Anthropic `POST /v1/messages` on loopback, answering scripted replies."""

    def __init__(self) -> None:
        super().__init__()
        self._server = ThreadedServer(self.app())

    @property
    def base_url(self) -> str:
        """The URL to configure as the provider's `url`."""
        return f"http://127.0.0.1:{self._server.port}/v1/"

    def __enter__(self) -> FakeAnthropic:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[Route("/v1/messages", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        reply = self.take(request.url.path, dict(request.headers), body)
        keys = (request.headers.get("x-api-key"), request.headers.get("authorization"))
        if self.api_key and self.api_key not in keys and f"Bearer {self.api_key}" not in keys:
            reply = Reply(status=401, error="invalid x-api-key")
        if reply.stall:
            await asyncio.sleep(reply.stall)
        if reply.status != 200:
            kind = _ERROR_TYPES.get(reply.status, "api_error")
            error = {"type": kind, "message": reply.error or f"fake error {reply.status}"}
            return JSONResponse({"type": "error", "error": error}, status_code=reply.status)
        model = str(body.get("model", "claude-fake"))
        if not body.get("stream"):
            return JSONResponse(message_body(reply, model))
        return StreamingResponse(self._stream(reply, model), media_type="text/event-stream")

    async def _stream(self, reply: Reply, model: str) -> AsyncIterator[bytes]:
        events = stream_events(reply, model)
        self.active_streams += 1
        try:
            for index, event in enumerate(events):
                if reply.cut_after is not None and index > reply.cut_after:
                    raise ConnectionAbortedError("fake provider stopped mid-stream")
                if reply.garbage and index == 2:
                    yield b"event: content_block_delta\ndata: {not json\n\n"
                    continue
                yield event
                if reply.delay and 0 < index < len(events) - 2:
                    await asyncio.sleep(reply.delay)
        finally:
            self.active_streams -= 1
            self.closed_streams += 1
