"""A loopback fake of an OpenAI-compatible chat-completions server (streaming SSE and plain JSON).

Usage in a test::

    with FakeOpenAIChat() as fake:
        fake.script("Hello there", tool("write_plan", '{"steps": []}'))
        ... point a provider at fake.base_url ...
        assert fake.requests[0].body["max_tokens"] == 100

Replies follow `tests.fakes.llm_script.Reply`: text chunks, tool calls whose arguments arrive in
fragments (several per message), usage chunks, HTTP errors, stalls, slow streams, streams cut
short and garbage lines. Run `python -m tests.fakes.openai_chat --port N` for a standalone fake
that answers `#fake chunks=N size=S` directives (benchmarks use it in another process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.llm_script import Reply, ScriptedModel, ThreadedServer, ToolCallScript, tool

__all__ = ["FakeOpenAIChat", "Reply", "ToolCallScript", "tool"]

_ERROR_TYPES = {401: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error"}
_BATCH = 64


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def _usage_chunk(model: str, usage: tuple[int, int]) -> bytes:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        },
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def stream_pieces(reply: Reply, model: str) -> list[bytes]:
    """Every SSE event of a streamed reply, in order (content first, then the closing events)."""
    pieces = [_chunk(model, {"role": "assistant", "content": ""})]
    for text in reply.text_chunks():
        pieces.append(_chunk(model, {"content": text}))
    for index, call in enumerate(reply.tool_calls):
        opening = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        pieces.append(_chunk(model, {"tool_calls": [opening]}))
        for fragment in call.pieces():
            fragment_delta = {"index": index, "function": {"arguments": fragment}}
            pieces.append(_chunk(model, {"tool_calls": [fragment_delta]}))
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    pieces.append(_chunk(model, {}, finish))
    if reply.usage:
        pieces.append(_usage_chunk(model, reply.usage))
    pieces.append(b"data: [DONE]\n\n")
    return pieces


def completion_body(reply: Reply, model: str) -> dict[str, Any]:
    """The non-streamed chat.completion object for a reply."""
    text = reply.text or "".join(reply.text_chunks())
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    usage = reply.usage or (0, 0)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.finish_reason
                or ("tool_calls" if reply.tool_calls else "stop"),
            }
        ],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }


class FakeOpenAIChat(ScriptedModel):
    """OpenAI-compatible `POST .../chat/completions` on loopback, answering scripted replies."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self._server = ThreadedServer(self.app(), port)

    @property
    def base_url(self) -> str:
        """The URL to configure as the provider's `url` (ends in `/v1/`)."""
        return f"http://127.0.0.1:{self._server.port}/v1/"

    def __enter__(self) -> FakeOpenAIChat:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def app(self) -> Starlette:
        """The ASGI app (any path ending in `chat/completions`)."""
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "GET"])])

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        if not path.endswith("chat/completions"):
            return JSONResponse({"error": {"message": f"no route {path}"}}, status_code=404)
        body = json.loads(await request.body() or b"{}")
        reply = self.take(path, dict(request.headers), body)
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            reply = Reply(status=401, error="Incorrect API key provided")
        if reply.stall:
            await asyncio.sleep(reply.stall)
        if reply.status != 200:
            kind = _ERROR_TYPES.get(reply.status, "api_error")
            error = {"message": reply.error or f"fake error {reply.status}", "type": kind}
            return JSONResponse({"error": error}, status_code=reply.status)
        model = str(body.get("model", "fake-model"))
        if not body.get("stream"):
            return JSONResponse(completion_body(reply, model))
        return StreamingResponse(self._stream(reply, model), media_type="text/event-stream")

    async def _stream(self, reply: Reply, model: str) -> AsyncIterator[bytes]:
        pieces = reply.raw if reply.raw is not None else stream_pieces(reply, model)
        content_end = len(pieces) - (3 if reply.usage else 2)
        self.active_streams += 1
        try:
            if reply.raw is not None:
                for piece in pieces:
                    yield piece
                return
            if reply.stamp:
                # Built at send time, one write per chunk, so each stamp is when it left.
                start = time.monotonic()
                for index, piece in enumerate(pieces):
                    if 0 < index <= len(reply.text_chunks()):
                        if reply.pace:
                            ahead = start + index / reply.pace - time.monotonic()
                            if ahead > 0:
                                await asyncio.sleep(ahead)
                        piece = _chunk(model, {"content": f"{time.time():17.6f} "})
                    yield piece
                return
            if reply.delay == 0 and reply.cut_after is None and not reply.garbage:
                # Zero delay: batch events per write so the fake never is the bottleneck.
                for start in range(0, len(pieces), _BATCH):
                    yield b"".join(pieces[start : start + _BATCH])
                return
            for index, piece in enumerate(pieces):
                if reply.cut_after is not None and index > reply.cut_after:
                    # Dropping the connection without the chunked terminator is what a provider
                    # that dies mid-answer looks like on the wire.
                    raise ConnectionAbortedError("fake provider stopped mid-stream")
                if reply.garbage and index == 2:
                    yield b"data: {this is not json\n\n"
                    continue
                yield piece
                if reply.delay and 0 < index < content_end:
                    await asyncio.sleep(reply.delay)
        finally:
            self.active_streams -= 1
            self.closed_streams += 1


def main() -> None:
    """Serve the fake standalone (directive replies only) until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeOpenAIChat()
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
