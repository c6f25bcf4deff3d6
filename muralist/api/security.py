"""ASGI guard in front of HTTP and Socket.IO: Host, Origin, token and JSON content type."""

import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from muralist.settings import ServerSettings, is_loopback

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "muralist_token"
# Uploads are the only multipart routes; every other body must be JSON, which a
# cross-site form or `text/plain` post cannot send without a preflight.
MULTIPART_PATHS = frozenset({"/api/upload_image"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_JSON_BODY = 100 << 20
# Multipart framing around an upload's bytes: boundaries and the part's headers.
MULTIPART_ALLOWANCE = 64 << 10
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def has_lone_surrogate(body: bytes) -> bool:
    """True when JSON text escapes half of a UTF-16 pair (`\\ud800` alone), which no
    database or file can store as UTF-8."""
    if not _SURROGATE_ESCAPE.search(body):
        return False
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except ValueError:
        return False  # not JSON at all: the route's own parser reports that
    return False


def _split_host(value: str) -> tuple[str, str]:
    """('hostname', 'port') of a Host header value or URL netloc."""
    parts = urlsplit("//" + value)
    try:
        port = str(parts.port or "")
    except ValueError:
        port = "?"
    return (parts.hostname or "").lower(), port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class SecurityGuard:
    """Refuses requests before they reach a route or the Socket.IO server."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.token = settings.token
        self.allowed_origins = {origin.rstrip("/").lower() for origin in settings.allowed_origins}
        self.allowed_hosts = {host.lower() for host in settings.allowed_hosts}
        self.allowed_hosts.add(settings.host.lower())
        self.max_upload_body = int(settings.max_upload_mb * (1 << 20)) + MULTIPART_ALLOWANCE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): val.decode("latin-1") for key, val in scope["headers"]}
        problem = self._check(scope, headers)
        wants_cookie = scope["type"] == "http" and scope["path"] == "/" and self.token
        if problem is None and wants_cookie and self._query_token(scope):
            await self._set_cookie(send)
            return
        if problem is None:
            problem = self._declared_size_problem(scope, headers)
        if problem is None and self._is_json_body(scope, headers):
            body, problem = await self._read_json_body(receive)
            if problem is None:
                receive = _replay(body, receive)
        if problem is None and self._is_multipart_body(scope, headers):
            await _CappedBody(self.app, self.max_upload_body)(scope, receive, send)
            return
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        log.info("refused %s %s: %s", scope.get("method", "WS"), scope["path"], message)
        await self._refuse(scope, send, status, message)

    def _check(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if host and not self._host_allowed(host):
            return 403, f"host not allowed: {host} (add it to MURALIST_ALLOWED_HOSTS)"
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, host):
            return 403, f"origin not allowed: {origin} (add it to MURALIST_ALLOWED_ORIGINS)"
        if self.token and not self._has_token(scope, headers):
            return 401, "missing or wrong token: send 'Authorization: Bearer <MURALIST_TOKEN>'"
        if scope["type"] == "http":
            return self._content_type_problem(scope, headers)
        return None

    def _host_allowed(self, host: str) -> bool:
        name, _port = _split_host(host)
        # IP literals cannot be rebound by DNS; names must be ours or listed.
        return is_loopback(name) or _is_ip(name) or name in self.allowed_hosts

    def _origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if parts.netloc == host.lower():
            return True
        origin_name, origin_port = _split_host(parts.netloc)
        host_name, host_port = _split_host(host)
        return is_loopback(origin_name) and is_loopback(host_name) and origin_port == host_port

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        assert self.token is not None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and secrets.compare_digest(
            auth[7:].strip().encode(), self.token.encode()
        ):
            return True
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == TOKEN_COOKIE and secrets.compare_digest(value.encode(), self.token.encode()):
                return True
        return scope["path"] == "/" and self._query_token(scope)

    def _query_token(self, scope: Scope) -> bool:
        assert self.token is not None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token", [""])[0]
        return bool(given) and secrets.compare_digest(given.encode(), self.token.encode())

    @staticmethod
    def _content_type_problem(scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        if scope["method"] not in _BODY_METHODS or not scope["path"].startswith("/api/"):
            return None
        has_body = headers.get("content-length", "0") not in ("", "0") or (
            "transfer-encoding" in headers
        )
        if not has_body:
            return None
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            return None
        if kind == "multipart/form-data" and scope["path"] in MULTIPART_PATHS:
            return None
        return 415, f"Content-Type must be application/json, not {kind or 'missing'!r}"

    @staticmethod
    def _is_json_body(scope: Scope, headers: dict[str, str]) -> bool:
        return _body_kind(scope, headers) == "application/json"

    @staticmethod
    def _is_multipart_body(scope: Scope, headers: dict[str, str]) -> bool:
        return _body_kind(scope, headers) == "multipart/form-data"

    def _declared_size_problem(
        self, scope: Scope, headers: dict[str, str]
    ) -> tuple[int, str] | None:
        """Refuse a body whose Content-Length is over the limit before a byte of it is read."""
        kind = _body_kind(scope, headers)
        if kind == "application/json":
            limit, what = MAX_JSON_BODY, "body"
        elif kind == "multipart/form-data":
            limit, what = self.max_upload_body, "file"
        else:
            return None
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return 413, _too_large(what, limit)
        return None

    @staticmethod
    async def _read_json_body(receive: Receive) -> tuple[bytes, tuple[int, str] | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", (400, "body: the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BODY:
                return b"", (413, _too_large("body", MAX_JSON_BODY))
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if has_lone_surrogate(body):
            return body, (400, "body: text holds an unpaired UTF-16 surrogate (such as \\ud800)")
        return body, None

    async def _set_cookie(self, send: Send) -> None:
        cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode("latin-1"))],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        await _send_error(send, status, message)


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    # No "Connection: close" on a 413: closing a socket with unread body bytes resets it,
    # and the client may lose the answer. The server drops the rest of the body instead.
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _body_kind(scope: Scope, headers: dict[str, str]) -> str | None:
    """The media type of an API request's body, lower case; None for other requests."""
    if (
        scope["type"] != "http"
        or scope["method"] not in _BODY_METHODS
        or not scope["path"].startswith("/api/")
    ):
        return None
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _too_large(what: str, limit: int) -> str:
    return f"{what}: the request body is larger than the {limit / (1 << 20):.1f} MB limit"


class _CappedBody:
    """Runs the app with a `receive` that stops a body growing past `limit` bytes.

    Counting as the chunks arrive covers bodies sent without Content-Length, so an upload
    of many GB is cut off before the multipart parser spools it to disk. The app is told
    the client went away; its answer to that is replaced by a 413.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.size = 0
        self.exceeded = False
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def capped_receive() -> Message:
            if self.exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.size += len(message.get("body", b""))
                if self.size > self.limit:
                    self.exceeded = True
                    log.info("refused %s: body over %d bytes", scope["path"], self.limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not self.exceeded:
                self.started = True
            if not self.exceeded or self.started:
                await send(message)
            elif not self.refused:
                self.refused = True
                await _send_error(send, 413, _too_large("file", self.limit))

        await self.app(scope, capped_receive, guarded_send)
        if self.exceeded and not self.refused and not self.started:
            # The app ended without answering (it saw the disconnect): answer for it.
            self.refused = True
            await _send_error(send, 413, _too_large("file", self.limit))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the app, then listens to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
