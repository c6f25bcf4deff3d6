"""Client for ComfyUI's HTTP and WebSocket API (the calls its own web editor makes)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    # websockets is imported where a run connects: it is not needed to start the server.
    from websockets.asyncio.client import ClientConnection

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
UPLOAD_SUBFOLDER = "muralist"
DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024


class ComfyUIError(Exception):
    """A failed ComfyUI call; the message is what the model and the person get to read."""


@dataclass(frozen=True)
class OutputFile:
    """One file a node saved, as named in ComfyUI's history (fetched through /view)."""

    node_id: str
    filename: str
    subfolder: str
    type: str

    @property
    def kind(self) -> str:
        """`video` for video containers, else `image` (ComfyUI's own default)."""
        return "video" if self.filename.lower().endswith(VIDEO_EXTENSIONS) else "image"


def rejection_message(body: Any) -> str:
    """ComfyUI's own words for a queue rejection: the error and every node error under it."""
    if not isinstance(body, dict):
        return str(body)[:500]
    error = body.get("error")
    head = error.get("message", "") if isinstance(error, dict) else str(error or "")
    if isinstance(error, dict) and error.get("details") and not body.get("node_errors"):
        # Without node errors the details are the only place naming the node.
        head = f"{head} ({error['details']})"
    parts = [head]
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, entry in node_errors.items():
            if not isinstance(entry, dict):
                continue
            for item in entry.get("errors") or []:
                if isinstance(item, dict):
                    text = ": ".join(
                        str(p) for p in (item.get("message"), item.get("details")) if p
                    )
                    parts.append(f"{entry.get('class_type', 'node')} #{node_id}: {text}")
    return "; ".join(p for p in parts if p) or "ComfyUI rejected the workflow"


class EventStream:
    """The JSON messages of one /ws connection; binary preview frames are skipped."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    async def next(self) -> dict[str, Any] | None:
        """The next message as {"type", "data"}, or None once the connection has closed."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                frame = await self._connection.recv()
            except ConnectionClosed:
                return None
            if isinstance(frame, bytes):
                continue
            try:
                message = json.loads(frame)
            except json.JSONDecodeError:
                logger.debug("ComfyUI sent a non-JSON text frame: %.80s", frame)
                continue
            if isinstance(message, dict) and isinstance(message.get("type"), str):
                if not isinstance(message.get("data"), dict):
                    message["data"] = {}
                return message


class ComfyUIClient:
    """One ComfyUI server seen under one client id; the httpx client is the caller's."""

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        *,
        client_id: str | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ComfyUIError(f"ComfyUI URL must be http(s)://host[:port], got {base_url!r}")
        self.base_url = base_url.strip().rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.max_download_bytes = max_download_bytes
        self._http = http

    @property
    def ws_url(self) -> str:
        """The progress WebSocket under the same host and path prefix as the HTTP API."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path.rstrip("/") + "/ws"
        return urlunsplit((scheme, parts.netloc, path, f"clientId={self.client_id}", ""))

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ComfyUIError(f"ComfyUI at {self.base_url} timed out on {path}") from exc
        except httpx.HTTPError as exc:
            raise ComfyUIError(f"ComfyUI at {self.base_url} is not reachable: {exc}") from exc
        return response

    @staticmethod
    def _json(response: httpx.Response, path: str) -> Any:
        if response.status_code >= 400:
            raise ComfyUIError(
                f"ComfyUI answered {response.status_code} on {path}: {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ComfyUIError(f"ComfyUI answered {path} with something that is not JSON") from exc

    async def system_stats(self) -> dict[str, Any]:
        """GET /system_stats: a liveness check that also names the ComfyUI version."""
        return self._json(await self._request("GET", "/system_stats"), "/system_stats")

    async def upload_image(
        self, filename: str, data: bytes, *, subfolder: str = UPLOAD_SUBFOLDER
    ) -> str:
        """POST /upload/image; returns the value a LoadImage node takes (`subfolder/name`)."""
        response = await self._request(
            "POST",
            "/upload/image",
            files={"image": (filename, data, "application/octet-stream")},
            data={"type": "input", "subfolder": subfolder, "overwrite": "true"},
        )
        body = self._json(response, "/upload/image")
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise ComfyUIError("ComfyUI's /upload/image answer has no name")
        folder = body.get("subfolder") or ""
        return f"{folder}/{name}" if folder else name

    async def queue_prompt(self, graph: dict[str, Any]) -> str:
        """POST /prompt with our client id; a rejection raises with ComfyUI's node errors."""
        response = await self._request(
            "POST", "/prompt", json={"prompt": graph, "client_id": self.client_id}
        )
        if response.status_code >= 400:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise ComfyUIError(f"ComfyUI rejected the workflow: {rejection_message(body)}")
        body = self._json(response, "/prompt")
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        if not isinstance(prompt_id, str) or not prompt_id:
            raise ComfyUIError("ComfyUI's /prompt answer has no prompt_id")
        return prompt_id

    async def history(self, prompt_id: str) -> dict[str, Any] | None:
        """GET /history/{id}: the finished prompt's entry, or None while it is not finished."""
        path = f"/history/{prompt_id}"
        body = self._json(await self._request("GET", path), path)
        entry = body.get(prompt_id) if isinstance(body, dict) else None
        return entry if isinstance(entry, dict) else None

    async def queue_state(self) -> tuple[set[str], set[str]]:
        """GET /queue: the prompt ids running and pending."""
        body = self._json(await self._request("GET", "/queue"), "/queue")

        def ids(key: str) -> set[str]:
            items = body.get(key) if isinstance(body, dict) else None
            return {
                str(item[1]) for item in items or [] if isinstance(item, list) and len(item) > 1
            }

        return ids("queue_running"), ids("queue_pending")

    async def cancel(self, prompt_id: str) -> str:
        """Remove our prompt from the queue, or interrupt it only while it is the one running.

        Returns what happened: `removed`, `interrupted` or `not_queued`.
        """
        running, pending = await self.queue_state()
        if prompt_id in pending:
            await self._request("POST", "/queue", json={"delete": [prompt_id]})
            running, pending = await self.queue_state()
            if prompt_id not in running:
                return "removed"
        if prompt_id in running:
            # Naming the prompt lets ComfyUI itself refuse if another prompt took its place.
            await self._request("POST", "/interrupt", json={"prompt_id": prompt_id})
            return "interrupted"
        return "not_queued"

    async def download(self, output: OutputFile) -> tuple[bytes, str]:
        """GET /view for one output, size-limited; returns its bytes and content type."""
        params = {"filename": output.filename, "subfolder": output.subfolder, "type": output.type}
        url = f"{self.base_url}/view"
        chunks: list[bytes] = []
        size = 0
        try:
            async with self._http.stream("GET", url, params=params) as response:
                if response.status_code != 200:
                    raise ComfyUIError(
                        f"ComfyUI answered {response.status_code} for output {output.filename}"
                    )
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_download_bytes:
                        raise ComfyUIError(
                            f"output {output.filename} is larger than "
                            f"{self.max_download_bytes // (1024 * 1024)} MB"
                        )
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "")
        except httpx.HTTPError as exc:
            raise ComfyUIError(f"downloading {output.filename} from ComfyUI failed: {exc}") from exc
        return b"".join(chunks), content_type.split(";")[0].strip()

    @asynccontextmanager
    async def events(self, *, open_timeout: float = 10.0) -> AsyncIterator[EventStream]:
        """Connect /ws?clientId=<ours>; connect before queueing so no message is missed."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidURI

        try:
            # ComfyUI is a local or LAN service: no proxy, and room for large preview frames.
            connection = await connect(
                self.ws_url, open_timeout=open_timeout, max_size=64 * 1024 * 1024, proxy=None
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ComfyUIError(
                f"ComfyUI at {self.base_url} is not reachable (WebSocket /ws: {exc})"
            ) from exc
        try:
            yield EventStream(connection)
        finally:
            await connection.close()
