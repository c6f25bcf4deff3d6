"""Scripted replies and a threaded loopback server shared by the language-model fakes.

A test queues `Reply` objects on a fake; each chat request takes the next one (or the fake's
`default`, or whatever its `responder` returns for the request body). The wire format is the
fake's business (OpenAI chunks or Anthropic events); the script only says what the model "says".
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


@dataclass
class ToolCallScript:
    """One tool call the model makes; `arguments` is sent in `fragments` pieces."""

    name: str
    arguments: str = "{}"
    id: str = field(default_factory=lambda: _next_id("call_"))
    fragments: int = 3

    def pieces(self) -> list[str]:
        """Split the argument text into at most `fragments` non-empty pieces."""
        n = max(1, min(self.fragments, len(self.arguments)))
        size = -(-len(self.arguments) // n) if self.arguments else 0
        if not size:
            return [""]
        return [self.arguments[i : i + size] for i in range(0, len(self.arguments), size)]


@dataclass
class Reply:
    """What the fake model answers to one request.

    status/error: a non-200 answer with that error message (no stream at all).
    stall: seconds to wait before answering (a provider that hangs).
    delay: seconds between streamed chunks (a slow stream, for cancel tests).
    cut_after: drop the connection after that many stream events (a provider dying mid-answer).
    garbage: send a line that is not JSON after the first content chunk.
    stamp: replace each text chunk by the time it is sent (see `directive_reply`).
    pace: with stamp, send at most this many chunks per second, evenly spaced (0: no limit).
    raw: send exactly these stream bytes (a provider with its own quirks).
    """

    text: str = ""
    chunks: list[str] | None = None
    tool_calls: list[ToolCallScript] = field(default_factory=list)
    usage: tuple[int, int] | None = (12, 7)
    status: int = 200
    error: str = ""
    stall: float = 0.0
    delay: float = 0.0
    cut_after: int | None = None
    garbage: bool = False
    finish_reason: str | None = None
    stamp: bool = False
    pace: int = 0
    raw: list[bytes] | None = None

    def text_chunks(self) -> list[str]:
        """The text split into streamed pieces (explicit chunks, or about 8 characters each)."""
        if self.chunks is not None:
            return list(self.chunks)
        return [self.text[i : i + 8] for i in range(0, len(self.text), 8)]


def tool(name: str, arguments: str = "{}", *, fragments: int = 3, id: str | None = None) -> Reply:
    """A reply that makes exactly one tool call."""
    call = ToolCallScript(name, arguments, fragments=fragments)
    if id:
        call.id = id
    return Reply(tool_calls=[call])


_DIRECTIVE = re.compile(r"#fake\s+chunks=(\d+)(?:\s+size=(\d+))?(\s+stamp)?(?:\s+pace=(\d+))?")


def directive_reply(body: dict[str, Any]) -> Reply | None:
    """Read a `#fake chunks=N size=S [stamp] [pace=P]` directive from the last user message.

    It lets a fake running in another process (benchmarks) be scripted by the request itself.
    With `stamp`, every chunk is the wall-clock time it was sent (`time.time()`, 17 characters
    and a space), so a client can measure each delta's latency.
    """
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        text = (
            content
            if isinstance(content, str)
            else " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))
        )
        match = _DIRECTIVE.search(text)
        if not match:
            return None
        count, size = int(match.group(1)), int(match.group(2) or 1)
        pace = int(match.group(4) or 0)
        return Reply(chunks=["x" * size] * count, stamp=bool(match.group(3)), pace=pace)
    return None


@dataclass
class Recorded:
    """One request as the fake received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedModel:
    """The queue of replies and the record of requests, safe to use from the test's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.default: Reply | None = Reply(text="ok")
        self.responder: Callable[[dict[str, Any]], Reply | None] | None = None
        self.api_key = ""  # when set, requests without it get a 401
        self.active_streams = 0
        self.closed_streams = 0

    def reset(self) -> None:
        """Forget scripted replies, recorded requests and settings (between tests)."""
        with self._lock:
            self._queue.clear()
            self.requests = []
        self.default = Reply(text="ok")
        self.responder = None
        self.api_key = ""

    def script(self, *replies: Reply | str) -> None:
        """Queue replies; a plain string is a text reply."""
        with self._lock:
            for reply in replies:
                self._queue.append(Reply(text=reply) if isinstance(reply, str) else reply)

    def take(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        """Record a request and choose its reply."""
        with self._lock:
            self.requests.append(Recorded(path, headers, body))
            if self._queue:
                return self._queue.popleft()
        chosen = self.responder(body) if self.responder else None
        chosen = chosen or directive_reply(body) or self.default
        if chosen is None:
            return Reply(status=500, error="the fake has no scripted reply left")
        return chosen

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._queue)


class _SignallingServer(uvicorn.Server):
    """A uvicorn server that sets a thread event once it listens."""

    def __init__(self, config: uvicorn.Config, started: threading.Event) -> None:
        super().__init__(config)
        self._started_event = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._started_event.set()


class ThreadedServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a thread of its own, on a free port."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self._app = app
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self.port = port

    def start(self) -> None:
        # Port 0 lets the OS choose; uvicorn binds it itself. (Handing uvicorn a pre-bound socket
        # made every keep-alive request wait about 40 ms on the default asyncio loop.)
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="off",
            access_log=False,
        )
        started = threading.Event()
        self._server = _SignallingServer(config, started)

        def run() -> None:
            assert self._server is not None
            try:
                asyncio.run(self._server.serve())
            finally:
                started.set()

        self._thread = threading.Thread(target=run, name="fake-llm", daemon=True)
        self._thread.start()
        if not started.wait(10) or not self._server.started:
            raise RuntimeError("fake server did not start within 10 s")
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)
