"""The Volcengine Ark client against its loopback fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from muralist.media.images import video_size
from muralist.tools.providers.common import PollPolicy, ProviderError
from muralist.tools.providers.volces import VolcesClient, seedance_text, seedream_size
from tests.fakes.provider_base import Failure
from tests.fakes.volces import FakeVolces

FAST = PollPolicy(interval_s=0.01, max_polls=20)
CONTENT = [{"type": "text", "text": "a wave --resolution 480p --dur 5"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVolces]:
    with FakeVolces() as server:
        yield server


@pytest.fixture
async def http(fake: FakeVolces) -> AsyncIterator[httpx.AsyncClient]:
    fake.reset()
    async with httpx.AsyncClient() as client:
        yield client


def client(http: httpx.AsyncClient, fake: FakeVolces, **kwargs: object) -> VolcesClient:
    kwargs.setdefault("poll_policy", FAST)
    return VolcesClient(http, fake.base_url, fake.api_key, **kwargs)  # type: ignore[arg-type]


def test_sizes_and_seedance_text() -> None:
    assert seedream_size("16:9") == "1280x720"
    assert seedream_size("7:5") == "1024x1024"
    text = seedance_text(
        "a cat", resolution="720p", duration=5, camera_fixed=True, aspect_ratio="16:9"
    )
    assert text == "a cat --resolution 720p --dur 5 --camerafixed true --wm false --rt 16:9"
    assert "--rt" not in seedance_text(
        "x", resolution="480p", duration=10, camera_fixed=False, aspect_ratio=None
    )


async def test_image_generation_downloads_the_url(
    http: httpx.AsyncClient, fake: FakeVolces
) -> None:
    pictures = await client(http, fake).generate_image(
        {"model": "doubao-seedream-3-0-t2i-250415", "prompt": "a lake", "size": "1024x1024"}
    )
    assert pictures[0][:2] == b"\xff\xd8"  # the fake answers JPEG
    sent = fake.requests[0].json
    assert sent["watermark"] is False
    assert sent["response_format"] == "url"
    assert sent["size"] == "1024x1024"


async def test_image_error_carries_ark_message(http: httpx.AsyncClient, fake: FakeVolces) -> None:
    fake.fail = Failure(
        400, "The request failed because the input text may contain sensitive information."
    )
    with pytest.raises(ProviderError, match="HTTP 400: The request failed because the input text"):
        await client(http, fake).generate_image({"model": "m", "prompt": "x"})


async def test_image_result_404(http: httpx.AsyncClient, fake: FakeVolces) -> None:
    fake.broken_result = True
    with pytest.raises(ProviderError, match="HTTP 404"):
        await client(http, fake).generate_image({"model": "m", "prompt": "x"})


async def test_video_task_is_polled_and_downloaded(
    http: httpx.AsyncClient, fake: FakeVolces
) -> None:
    fake.polls_needed = 3
    video = await client(http, fake).generate_video("doubao-seedance-1-0-pro-250528", CONTENT)

    assert video_size(video) == (640, 360)
    assert fake.requests[0].json == {"model": "doubao-seedance-1-0-pro-250528", "content": CONTENT}
    assert len([p for p in fake.paths("GET") if "/tasks/" in p]) == 3


async def test_failed_video_task_reports_reason(http: httpx.AsyncClient, fake: FakeVolces) -> None:
    fake.outcome = "failed"
    with pytest.raises(
        ProviderError, match="the video task failed: The video may contain sensitive"
    ):
        await client(http, fake).generate_video("m", CONTENT)


async def test_server_error_on_create(http: httpx.AsyncClient, fake: FakeVolces) -> None:
    fake.fail = Failure(500, "Internal error")
    with pytest.raises(ProviderError, match="HTTP 500: Internal error"):
        await client(http, fake).generate_video("m", CONTENT)


async def test_endless_task_is_bounded_and_deleted(
    http: httpx.AsyncClient, fake: FakeVolces
) -> None:
    fake.endless = True
    with pytest.raises(ProviderError, match="not ready after 4 checks"):
        await client(http, fake, poll_policy=PollPolicy(0.01, 4)).generate_video("m", CONTENT)
    assert fake.cancelled == [list(fake.tasks)[-1]]


async def test_cancelling_the_caller_deletes_the_task(
    http: httpx.AsyncClient, fake: FakeVolces
) -> None:
    fake.endless = True
    runner = client(http, fake, poll_policy=PollPolicy(0.02, 10_000))
    task = asyncio.create_task(runner.generate_video("m", CONTENT))
    await fake.wait_for_request(lambda r: r.method == "GET" and "/tasks/" in r.path)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.cancelled == [list(fake.tasks)[-1]]


async def test_timeout(http: httpx.AsyncClient, fake: FakeVolces) -> None:
    fake.stall_s = 2.0
    with pytest.raises(ProviderError, match="did not answer in time"):
        await client(http, fake, timeout=httpx.Timeout(0.2)).generate_video("m", CONTENT)


async def test_a_few_failed_polls_are_ridden_out(http: httpx.AsyncClient, fake: FakeVolces) -> None:
    fake.fail_polls = 3
    video = await client(http, fake).generate_video("m", CONTENT)

    assert video_size(video) == (640, 360)
    assert len(fake.paths("GET")) == 4  # three failed status checks and the last one
    assert fake.cancelled == []


async def test_polls_that_keep_failing_delete_the_task(
    http: httpx.AsyncClient, fake: FakeVolces
) -> None:
    fake.fail_polls = 100
    with pytest.raises(ProviderError, match="HTTP 502: Bad gateway"):
        await client(http, fake).generate_video("m", CONTENT)

    assert len(fake.paths("GET")) == 4
    assert fake.cancelled == [list(fake.tasks)[-1]]
    assert fake.tasks[fake.cancelled[0]]["status"] == "cancelled"  # it was still queued
