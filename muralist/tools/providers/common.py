"""What every provider client shares: error mapping, bounded polling and safe downloads."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from muralist.tools.base import ToolError

logger = logging.getLogger(__name__)

T = TypeVar("T")

MINUTE = 60.0
# Generation calls can take minutes upstream; connecting should not.
DEFAULT_TIMEOUT = httpx.Timeout(5 * MINUTE, connect=30.0)
MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_VIDEO_BYTES = 512 * 1024 * 1024
MAX_REDIRECTS = 5
# A status check lost to a flaky gateway says nothing about the task: ride out this many
# failures in a row before deciding the provider is gone.
POLL_FAILURES_TOLERATED = 3


class ProviderError(ToolError):
    """A provider refused, failed or did not answer in time.

    `transient` marks failures worth trying again (5xx and 429 answers, timeouts, lost
    connections); by default it follows from `status`.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        status: int | None = None,
        *,
        transient: bool | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status
        if transient is None:
            transient = status is not None and (status >= 500 or status == 429)
        self.transient = transient


def task_may_be_running(exc: BaseException) -> bool:
    """Whether the remote task may still run (and be billed) after `exc` ended our wait.

    Only a refusal (4xx but 429) tells us the provider knows the task is gone or was never
    ours; a cancel, a timeout, a rate limit, a 5xx or an exhausted poll budget leave it running.
    """
    if isinstance(exc, ProviderError) and exc.status is not None and exc.status != 429:
        return not 400 <= exc.status < 500
    return True


@dataclass(frozen=True)
class PollPolicy:
    """How often and how many times a provider task is polled before giving up."""

    interval_s: float
    max_polls: int

    @property
    def budget_s(self) -> float:
        return self.interval_s * self.max_polls


def error_text(response: httpx.Response) -> str:
    """The provider's own message from an error body (OpenAI, Ark, Replicate, plain text)."""
    try:
        body: Any = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        for key in ("detail", "message", "msg"):
            if body.get(key):
                return str(body[key])
    return str(body)[:300]


def check(provider: str, response: httpx.Response) -> httpx.Response:
    """Raise ProviderError with the provider's message unless the answer is 2xx."""
    if response.is_success:
        return response
    message = error_text(response)
    raise ProviderError(provider, f"HTTP {response.status_code}: {message}", response.status_code)


def json_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful answer, or ProviderError."""
    check(provider, response)
    try:
        body = response.json()
    except ValueError as exc:
        raise ProviderError(provider, "answered with something that is not JSON") from exc
    if not isinstance(body, dict):
        raise ProviderError(provider, "answered with JSON that is not an object")
    return body


async def send(
    provider: str,
    client: httpx.AsyncClient,
    method: str,
    url: str,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP call whose transport failures become ProviderError naming the host."""
    host = urlsplit(url).netloc or url
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise ProviderError(
            provider, f"{host} did not answer in time ({type(exc).__name__})", transient=True
        ) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(provider, f"cannot reach {host}: {exc}", transient=True) from exc


async def poll(
    provider: str,
    policy: PollPolicy,
    check_once: Callable[[], Awaitable[T | None]],
    *,
    failures_tolerated: int = POLL_FAILURES_TOLERATED,
) -> T:
    """Call `check_once` until it returns a value, at most `policy.max_polls` times.

    A transient ProviderError counts as one of those checks; up to `failures_tolerated` of
    them in a row are logged and retried, the next one (or any other error) is raised.
    """
    failures = 0
    for attempt in range(policy.max_polls):
        last = attempt + 1 == policy.max_polls
        try:
            result = await check_once()
        except ProviderError as exc:
            failures += 1
            if not exc.transient or failures > failures_tolerated or last:
                raise
            logger.warning(
                "status check failed (%d in a row), trying again: %s", failures, exc.message
            )
        else:
            failures = 0
            if result is not None:
                return result
        if not last:
            await asyncio.sleep(policy.interval_s)
    raise ProviderError(
        provider,
        f"the result was not ready after {policy.max_polls} checks ({policy.budget_s:.0f} s)",
    )


async def cancel_quietly(provider: str, action: Callable[[], Awaitable[Any]]) -> None:
    """Run a provider cancel call while the caller is being cancelled; never raise."""
    try:
        await asyncio.shield(asyncio.wait_for(action(), timeout=30.0))
    except BaseException:  # the cancel call is best effort; the caller is already cancelled
        logger.warning("%s: cancelling the remote task failed", provider, exc_info=True)


def _check_scheme(provider: str, url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ProviderError(
            provider, f"refusing to download a result from a {scheme or 'relative'} URL"
        )


async def download(
    provider: str,
    client: httpx.AsyncClient,
    url: str,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> tuple[bytes, str]:
    """Fetch a result URL (http/https only, also after redirects), at most `max_bytes`.

    Returns the body and its content type (without parameters, lower case).
    """
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(provider, url)
        host = urlsplit(url).netloc
        try:
            async with client.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if not response.is_success:
                    await response.aread()
                    raise ProviderError(
                        provider,
                        f"downloading the result from {host} failed with HTTP "
                        f"{response.status_code}",
                        response.status_code,
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise ProviderError(
                        provider, f"the result from {host} is larger than {max_bytes} bytes"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ProviderError(
                            provider, f"the result from {host} is larger than {max_bytes} bytes"
                        )
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return b"".join(chunks), content_type.lower()
        except httpx.TimeoutException as exc:
            raise ProviderError(provider, f"downloading the result from {host} timed out") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                provider, f"downloading the result from {host} failed: {exc}"
            ) from exc
    raise ProviderError(provider, f"too many redirects while downloading {url}")


@dataclass(frozen=True)
class InputImage:
    """An input picture read from the file store, ready to send to a provider."""

    name: str
    data: bytes
    mime_type: str

    def data_url(self) -> str:
        """The picture as a base64 `data:` URL, the form most providers accept."""
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def decode_b64(provider: str, text: str) -> bytes:
    """Bytes of a base64 image from an answer, or ProviderError."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(provider, "the answer holds broken base64") from exc


def endpoint(base_url: str, path: str) -> str:
    """Join a provider base URL (with or without a trailing slash) and a relative path."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")
