"""Downloads, polling and error mapping shared by every provider client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import quote

import httpx
import pytest

from muralist.tools.providers.common import (
    PollPolicy,
    ProviderError,
    download,
    endpoint,
    error_text,
    poll,
    send,
    task_may_be_running,
)
from tests.fakes.provider_base import FakeProvider, png_bytes
from tests.fakes.replicate import FakeReplicate


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeReplicate() as server:
        server.add_file("pic.png", png_bytes(10, 10), "image/png")
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def test_download_returns_bytes_and_type(http: httpx.AsyncClient, fake: FakeProvider) -> None:
    data, content_type = await download("p", http, f"{fake.origin}/files/pic.png")
    assert data == png_bytes(10, 10)
    assert content_type == "image/png"


async def test_download_follows_http_redirects(http: httpx.AsyncClient, fake: FakeProvider) -> None:
    target = quote(f"{fake.origin}/files/pic.png", safe="")
    data, _ = await download("p", http, f"{fake.origin}/redirect?to={target}")
    assert data == png_bytes(10, 10)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "/files/pic.png"])
async def test_download_refuses_other_schemes(http: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(ProviderError, match="refusing to download"):
        await download("p", http, url)


async def test_redirect_to_a_file_url_is_refused(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    with pytest.raises(ProviderError, match="refusing to download a result from a file URL"):
        await download("p", http, f"{fake.origin}/redirect?to=file:///etc/passwd")


async def test_download_stops_past_the_size_limit(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    with pytest.raises(ProviderError, match="larger than 20 bytes"):
        await download("p", http, f"{fake.origin}/files/pic.png", max_bytes=20)


async def test_download_of_missing_file_names_status(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    with pytest.raises(ProviderError, match="HTTP 404") as caught:
        await download("p", http, f"{fake.origin}/files/nothing.png")
    assert caught.value.status == 404


async def test_unreachable_host_is_a_provider_error(http: httpx.AsyncClient) -> None:
    with pytest.raises(ProviderError, match="failed"):
        await download("p", http, "http://127.0.0.1:9/x.png")


async def test_poll_gives_up_after_its_budget() -> None:
    calls = 0

    async def never() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(ProviderError, match="not ready after 3 checks"):
        await poll("p", PollPolicy(0.0, 3), never)
    assert calls == 3


async def test_poll_returns_first_value() -> None:
    answers = iter([None, None, "done"])

    async def step() -> str | None:
        await asyncio.sleep(0)
        return next(answers)

    assert await poll("p", PollPolicy(0.0, 10), step) == "done"


def test_error_text_reads_every_known_shape() -> None:
    def resp(status: int, **kwargs: object) -> httpx.Response:
        return httpx.Response(status, **kwargs)  # type: ignore[arg-type]

    assert error_text(resp(400, json={"error": {"message": "bad size"}})) == "bad size"
    assert error_text(resp(422, json={"detail": "input invalid"})) == "input invalid"
    assert error_text(resp(500, text="upstream exploded")) == "upstream exploded"
    assert error_text(resp(400, json={"error": "plain"})) == "plain"


def test_endpoint_joins_with_or_without_slash() -> None:
    assert endpoint("http://h/v1/", "images/edits") == "http://h/v1/images/edits"
    assert endpoint("http://h/v1", "/images/edits") == "http://h/v1/images/edits"


def _failing_then(
    failures: list[ProviderError], value: str
) -> tuple[list[int], Callable[[], Awaitable[str | None]]]:
    """A check that raises each of `failures` in turn, then returns `value`; counts calls."""
    calls = [0]
    pending = iter(failures)

    async def step() -> str | None:
        calls[0] += 1
        error = next(pending, None)
        if error is not None:
            raise error
        return value

    return calls, step


async def test_poll_rides_out_three_transient_failures_in_a_row() -> None:
    failures = [
        ProviderError("p", "HTTP 502: Bad gateway", 502),
        ProviderError("p", "did not answer in time", transient=True),
        ProviderError("p", "HTTP 429: slow down", 429),
    ]
    calls, step = _failing_then(failures, "done")
    assert await poll("p", PollPolicy(0.0, 10), step) == "done"
    assert calls == [4]
    # A rate limit says nothing about the remote task: it may still run.
    assert task_may_be_running(failures[2]) and not task_may_be_running(ProviderError("p", "", 404))


async def test_poll_gives_up_on_the_fourth_failure_in_a_row() -> None:
    failures = [ProviderError("p", f"HTTP 502: try {n}", 502) for n in range(4)]
    calls, step = _failing_then(failures, "done")
    with pytest.raises(ProviderError, match="HTTP 502: try 3"):
        await poll("p", PollPolicy(0.0, 10), step)
    assert calls == [4]


async def test_failed_polls_count_within_the_budget() -> None:
    failures = [ProviderError("p", "HTTP 500: oops", 500)] * 2
    calls, step = _failing_then(failures, "done")
    with pytest.raises(ProviderError, match="HTTP 500: oops"):
        await poll("p", PollPolicy(0.0, 2), step)
    assert calls == [2]


async def test_poll_stops_at_once_on_a_refusal_or_a_broken_answer() -> None:
    for error in (
        ProviderError("p", "HTTP 404: no such task", 404),
        ProviderError("p", "answered with something that is not JSON"),
    ):
        calls, step = _failing_then([error], "done")
        with pytest.raises(ProviderError) as caught:
            await poll("p", PollPolicy(0.0, 10), step)
        assert caught.value is error and calls == [1]


async def test_unreachable_host_while_polling_is_retried(http: httpx.AsyncClient) -> None:
    calls = 0

    async def step() -> str | None:
        nonlocal calls
        calls += 1
        if calls <= 2:  # nothing listens on port 9: a real connection error
            await send("p", http, "GET", "http://127.0.0.1:9/task")
        return "done"

    assert await poll("p", PollPolicy(0.0, 10), step) == "done"
    assert calls == 3
