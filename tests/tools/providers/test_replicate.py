"""The Replicate client against its loopback fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from muralist.tools.providers.common import PollPolicy, ProviderError
from muralist.tools.providers.replicate import ReplicateClient, output_urls
from tests.fakes.provider_base import Failure
from tests.fakes.replicate import FakeReplicate

FAST = PollPolicy(interval_s=0.01, max_polls=20)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeReplicate]:
    with FakeReplicate() as server:
        yield server


@pytest.fixture
async def http(fake: FakeReplicate) -> AsyncIterator[httpx.AsyncClient]:
    fake.reset()
    async with httpx.AsyncClient() as client:
        yield client


def client(http: httpx.AsyncClient, fake: FakeReplicate, **kwargs: object) -> ReplicateClient:
    kwargs.setdefault("poll_policy", FAST)
    return ReplicateClient(http, fake.api_key, fake.base_url, **kwargs)  # type: ignore[arg-type]


def test_output_urls_flattens_every_shape() -> None:
    assert output_urls("u") == ["u"]
    assert output_urls(["a", ["b"]]) == ["a", "b"]
    assert output_urls({"image": "c"}) == ["c"]
    assert output_urls(None) == []


async def test_prefer_wait_answer_is_used_without_polling(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    urls = await client(http, fake).run(
        "google/imagen-4", {"prompt": "a cat", "aspect_ratio": "1:1"}
    )

    assert urls and urls[0].startswith(fake.origin)
    create = fake.requests[0]
    assert create.path == "/v1/models/google/imagen-4/predictions"
    assert create.headers["prefer"] == "wait=5"
    assert create.json == {"input": {"prompt": "a cat", "aspect_ratio": "1:1"}}
    assert fake.paths("GET") == []


async def test_unfinished_prediction_is_polled(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.polls_needed = 3
    fake.output_as_list = True
    urls = await client(http, fake).run("black-forest-labs/flux-kontext-pro", {"prompt": "x"})

    assert len(urls) == 1
    assert len(fake.paths("GET")) == 3


async def test_failed_prediction_reports_replicate_reason(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.polls_needed = 1
    fake.outcome = "failed"
    with pytest.raises(ProviderError, match="the prediction failed: NSFW content detected"):
        await client(http, fake).run("google/imagen-4", {"prompt": "x"})


async def test_validation_error_carries_detail(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    with pytest.raises(ProviderError, match="HTTP 422: input: prompt is required"):
        await client(http, fake).run("google/imagen-4", {"aspect_ratio": "1:1"})


async def test_server_error(http: httpx.AsyncClient, fake: FakeReplicate) -> None:
    fake.fail = Failure(503, "Service temporarily unavailable")
    with pytest.raises(ProviderError, match="HTTP 503: Service temporarily unavailable"):
        await client(http, fake).run("google/imagen-4", {"prompt": "x"})


async def test_endless_prediction_is_bounded_and_cancelled(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.endless = True
    with pytest.raises(ProviderError, match="not ready after 5 checks"):
        await client(http, fake, poll_policy=PollPolicy(0.01, 5)).run(
            "google/imagen-4", {"prompt": "x"}
        )
    assert len(fake.cancelled) == 1


async def test_cancelling_the_caller_cancels_the_prediction(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.endless = True
    runner = client(http, fake, poll_policy=PollPolicy(0.05, 1000))
    task = asyncio.create_task(runner.run("google/imagen-4", {"prompt": "x"}))
    await fake.wait_for_request(lambda r: r.method == "GET")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.cancelled == [list(fake.predictions)[-1]]


async def test_timeout_is_a_provider_error(http: httpx.AsyncClient, fake: FakeReplicate) -> None:
    fake.stall_s = 2.0
    with pytest.raises(ProviderError, match="did not answer in time"):
        await client(http, fake, timeout=httpx.Timeout(0.2)).run("google/imagen-4", {"prompt": "x"})


async def test_a_few_failed_polls_are_ridden_out(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.polls_needed = 1
    fake.fail_polls = 3
    urls = await client(http, fake).run("google/imagen-4", {"prompt": "x"})

    assert urls and urls[0].startswith(fake.origin)
    assert len(fake.paths("GET")) == 4
    assert fake.cancelled == []


async def test_polls_that_keep_failing_cancel_the_prediction(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.endless = True
    fake.fail_polls = 100
    with pytest.raises(ProviderError, match="HTTP 502: Bad gateway"):
        await client(http, fake).run("google/imagen-4", {"prompt": "x"})

    assert len(fake.paths("GET")) == 4
    assert fake.cancelled == [list(fake.predictions)[-1]]


async def test_prediction_outlasting_the_wait_is_polled_and_cancellable(
    http: httpx.AsyncClient, fake: FakeReplicate
) -> None:
    fake.endless = True
    fake.wait_scale = 0.1  # wait=60 would hold the create 6 s, past the wait below
    runner = client(http, fake, poll_policy=PollPolicy(0.05, 1000))
    task = asyncio.create_task(runner.run("google/imagen-4", {"prompt": "x"}))
    await fake.wait_for_request(lambda r: r.method == "GET", timeout=3.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert fake.cancelled == [list(fake.predictions)[-1]]
    [held] = fake.held
    assert 1 <= held <= 10  # a short wait: the id comes back while the model still runs
