"""The Jaaz cloud client against its loopback fake (contract section 15)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from muralist.tools.providers.common import PollPolicy, ProviderError
from muralist.tools.providers.jaaz import JaazClient
from tests.fakes.jaaz_cloud import FakeJaazCloud
from tests.fakes.provider_base import Failure

FAST = PollPolicy(interval_s=0.01, max_polls=20)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeJaazCloud]:
    with FakeJaazCloud() as server:
        yield server


@pytest.fixture
async def http(fake: FakeJaazCloud) -> AsyncIterator[httpx.AsyncClient]:
    fake.reset()
    async with httpx.AsyncClient() as client:
        yield client


def client(http: httpx.AsyncClient, fake: FakeJaazCloud, **kwargs: object) -> JaazClient:
    for key in ("task_poll", "magic_poll", "search_poll"):
        kwargs.setdefault(key, FAST)
    return JaazClient(http, fake.base_url, fake.api_key, **kwargs)  # type: ignore[arg-type]


async def test_openai_models_get_the_openai_style_body(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    urls = await client(http, fake).generate_image(
        model="openai/gpt-image-1",
        prompt="a poster",
        aspect_ratio="3:4",
        input_images=["data:image/png;base64,AA"],
    )
    assert urls[0].startswith(fake.origin)
    assert fake.requests[0].headers["authorization"] == "Bearer jaaz-token"
    assert fake.requests[0].json == {
        "model": "openai/gpt-image-1",
        "prompt": "a poster Aspect ratio: 3:4",
        "n": 1,
        "size": "auto",
        "mask": None,
        "input_images": ["data:image/png;base64,AA"],
    }


async def test_other_models_send_the_first_input_image(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    await client(http, fake).generate_image(
        model="black-forest-labs/flux-kontext-pro",
        prompt="p",
        aspect_ratio="1:1",
        input_images=["d1", "d2"],
    )
    assert fake.requests[0].json == {
        "prompt": "p",
        "model": "black-forest-labs/flux-kontext-pro",
        "aspect_ratio": "1:1",
        "input_image": "d1",
    }


async def test_refusal_is_final(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    fake.fail = Failure(402, "Insufficient balance")
    with pytest.raises(ProviderError, match="HTTP 402: Insufficient balance"):
        await client(http, fake).generate_image(
            model="m", prompt="p", aspect_ratio="1:1", input_images=[]
        )
    assert fake.paths() == ["/api/v1/image/generations"]


async def test_lost_answer_is_recovered_by_task_search(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    fake.lose_generation = True
    urls = await client(http, fake).generate_image(
        model="m", prompt="lost one", aspect_ratio="1:1", input_images=[]
    )
    assert urls[0].startswith(fake.origin)
    assert fake.requests[-1].json == {"prompt": "lost one", "type": "image"}


async def test_server_error_without_a_task_is_reported(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    fake.fail = Failure(500, "internal error")
    with pytest.raises(ProviderError, match="HTTP 500: internal error"):
        await client(http, fake).generate_image(
            model="m", prompt="never made", aspect_ratio="1:1", input_images=[]
        )
    assert fake.paths().count("/api/v1/task/search") == FAST.max_polls


async def test_video_task_runs_to_success(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    fake.polls_needed = 2
    task = await client(http, fake).run_task(
        "video/seedance/generation", {"prompt": "waves", "model": "seedance"}
    )
    assert task["status"] == "succeeded"
    assert task["result_url"].endswith(".mp4")


async def test_failed_task_reports_cloud_error(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    fake.outcome = "failed"
    with pytest.raises(ProviderError, match="failed: content policy violation"):
        await client(http, fake).run_task(
            "video/sunra/generations", {"prompt": "x", "model": "veo3-fast"}
        )


async def test_endless_task_is_bounded(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    fake.endless = True
    runner = client(http, fake, task_poll=PollPolicy(0.01, 3))
    with pytest.raises(ProviderError, match="not ready after 3 checks"):
        await runner.run_task("video/sunra/generations", {"prompt": "x", "model": "hailuo-02"})


async def test_midjourney_returns_every_image(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    task = await client(http, fake).run_task(
        "image/midjourney/generation", {"prompt": "x", "model": "midjourney"}
    )
    assert len(task["result"]["images"]) == 4


async def test_magic_returns_result_url(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    url = await client(http, fake).magic("data:image/png;base64,AAAA")
    assert url.endswith(".png")
    assert fake.requests[0].json == {"image": "data:image/png;base64,AAAA"}


async def test_magic_refusal(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    with pytest.raises(ProviderError, match="HTTP 422: image must be a data URL"):
        await client(http, fake).magic("not a data url")


async def test_wrong_token(http: httpx.AsyncClient, fake: FakeJaazCloud) -> None:
    bad = JaazClient(http, fake.base_url, "expired")
    with pytest.raises(ProviderError, match="HTTP 401: Invalid token"):
        await bad.magic("data:image/png;base64,AA")


async def test_a_few_failed_polls_are_ridden_out(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    fake.fail_polls = 3
    task = await client(http, fake).run_task(
        "video/sunra/generations", {"prompt": "x", "model": "hailuo-02"}
    )
    assert task["status"] == "succeeded"
    assert len([p for p in fake.paths("GET") if "/task/" in p]) == 4


async def test_polls_that_keep_failing_end_the_task(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    fake.fail_polls = 100
    with pytest.raises(ProviderError, match="HTTP 502: Bad gateway"):
        await client(http, fake).run_task(
            "video/sunra/generations", {"prompt": "x", "model": "hailuo-02"}
        )
    assert len([p for p in fake.paths("GET") if "/task/" in p]) == 4


async def test_search_that_finds_a_failed_task_stops_at_once(
    http: httpx.AsyncClient, fake: FakeJaazCloud
) -> None:
    fake.fail = Failure(502, "Bad gateway")
    fake.by_prompt["doomed"] = {"id": "t0", "status": "failed", "result_url": None}
    with pytest.raises(ProviderError, match="HTTP 502: Bad gateway"):
        await client(http, fake).generate_image(
            model="m", prompt="doomed", aspect_ratio="1:1", input_images=[]
        )
    assert fake.paths().count("/api/v1/task/search") == 1
