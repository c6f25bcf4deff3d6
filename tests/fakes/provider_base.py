"""What the generation-provider fakes share: sample media, request log, result files, failures.

Every fake is a Starlette app run by `ThreadedServer` on 127.0.0.1. A test sets knobs on the
fake before calling it:

- `fail = Failure(status, message)`: the next create call answers that HTTP error, in the
  provider's own error shape;
- `stall_s`: create calls wait that long before answering (a client timeout shorter than it
  is a timeout);
- `broken_result = True`: result URLs point at a file that answers 404;
- `fail_polls = N`: the next N status checks of a running task answer 502 (a flaky gateway
  in front of a provider whose task keeps running);
- `gate`: a threading.Event; clear it to hold create calls until it is set again.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.llm_script import ThreadedServer


def png_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    """A real PNG picture of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    """A real JPEG picture (providers often answer JPEG or WebP)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _tkhd(track_id: int, width: int, height: int) -> bytes:
    identity = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    payload = (
        b"\x00\x00\x00\x07"
        + struct.pack(">5I", 0, 0, track_id, 0, 1000)
        + b"\x00" * 8
        + struct.pack(">hhhH", 0, 0, 0, 0)
        + identity
        + struct.pack(">II", width << 16, height << 16)
    )
    return _box(b"tkhd", payload)


def mp4_bytes(width: int = 640, height: int = 360) -> bytes:
    """A small ISO-BMFF file: an audio-like track (no size) then a video track of that size."""
    mvhd = _box(b"mvhd", b"\x00" * 4 + struct.pack(">5I", 0, 0, 1000, 1000, 0x10000) + b"\x00" * 80)
    audio = _box(b"trak", _tkhd(1, 0, 0) + _box(b"mdia", b""))
    video = _box(b"trak", _tkhd(2, width, height) + _box(b"mdia", b""))
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")
    return ftyp + _box(b"mdat", b"\x00" * 256) + _box(b"moov", mvhd + audio + video)


@dataclass
class Failure:
    """An HTTP error the next create call answers with."""

    status: int
    message: str


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)
    files: dict[str, list[tuple[str, bytes, str]]] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body when it is an object, else {}."""
        return self.json if isinstance(self.json, dict) else {}


class FakeProvider:
    """Base of the provider fakes: server lifecycle, request log, result files, knobs."""

    api_key = "test-key"
    auth_message = "invalid API key"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.reset()
        self._seen = threading.Condition()
        self._server = ThreadedServer(self.app())

    def reset(self) -> None:
        """Forget the requests and put every knob back to its default."""
        self.requests.clear()
        self.fail: Failure | None = None
        self.stall_s = 0.0
        self.broken_result = False
        self.fail_polls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.knobs()

    def knobs(self) -> None:
        """Set the fake's own knobs to their defaults (subclasses override)."""

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def __enter__(self) -> FakeProvider:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def app(self) -> Any:  # pragma: no cover - every fake defines it
        raise NotImplementedError

    def routes(self) -> list[Route]:
        """Routes every fake has: result files, and `/redirect?to=URL` (a 302 to any URL)."""
        return [
            Route("/files/{name}", self._file, methods=["GET"]),
            Route("/redirect", _redirect, methods=["GET"]),
        ]

    # --- helpers for the fakes' handlers -------------------------------------------------

    def paths(self, method: str | None = None) -> list[str]:
        """The paths requested so far (optionally of one method)."""
        return [r.path for r in self.requests if method is None or r.method == method]

    async def record(self, request: Request) -> Recorded:
        headers = {k.lower(): v for k, v in request.headers.items()}
        entry = Recorded(request.method, request.url.path, headers)
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    data = await value.read()
                    entry.files.setdefault(key, []).append(
                        (value.filename or "", data, value.content_type or "")
                    )
                else:
                    entry.form[key] = value
        else:
            raw = await request.body()
            entry.json = _json_or_none(raw)
        with self._seen:
            self.requests.append(entry)
            self._seen.notify_all()
        return entry

    async def wait_for_request(
        self, matches: Callable[[Recorded], bool], timeout: float = 5.0
    ) -> Recorded:
        """Wait (without blocking the test's loop) until a request matching `matches` arrived."""

        def wait() -> Recorded | None:
            with self._seen:
                self._seen.wait_for(lambda: any(matches(r) for r in self.requests), timeout)
                return next((r for r in self.requests if matches(r)), None)

        found = await asyncio.to_thread(wait)
        if found is None:
            raise AssertionError(f"no matching request within {timeout} s: {self.paths()}")
        return found

    def authorized(self, entry: Recorded) -> bool:
        return entry.headers.get("authorization") == f"Bearer {self.api_key}"

    def error(self, status: int, message: str) -> Response:
        """An error answer in the provider's own shape (subclasses override)."""
        return JSONResponse({"detail": message}, status_code=status)

    async def admit(
        self, request: Request, *, create: bool = False, poll: bool = False
    ) -> tuple[Recorded, Response | None]:
        """Record the request and check its key; a create call also applies the gate, stall
        and failure knobs, a status check the `fail_polls` knob. Returns the request and the
        refusal to answer, if any."""
        entry = await self.record(request)
        if not self.authorized(entry):
            return entry, self.error(401, self.auth_message)
        if poll and self.fail_polls > 0:
            self.fail_polls -= 1
            return entry, self.error(502, "Bad gateway")
        if create:
            failure = await self.before_create()
            if failure:
                return entry, self.error(failure.status, failure.message)
        return entry, None

    async def before_create(self) -> Failure | None:
        """Apply the gate, stall and one-shot failure knobs; return the failure to answer."""
        if not self.gate.is_set():
            await asyncio.to_thread(self.gate.wait, 30)
        if self.stall_s:
            await asyncio.sleep(self.stall_s)
        failure, self.fail = self.fail, None
        return failure

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        """Serve `data` at /files/<name>; returns its absolute URL (or a 404 one if broken)."""
        if self.broken_result:
            return f"{self.origin}/files/missing-{name}"
        self.files[name] = (data, content_type)
        return f"{self.origin}/files/{name}"

    async def _file(self, request: Request) -> Response:
        found = self.files.get(request.path_params["name"])
        if found is None:
            return Response("no such file", status_code=404)
        return Response(found[0], media_type=found[1])


async def _redirect(request: Request) -> Response:
    return RedirectResponse(request.query_params.get("to", "/"), status_code=302)


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
