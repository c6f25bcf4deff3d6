"""The OpenAI images client against its loopback fake."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from PIL import Image

from muralist.tools.providers.common import InputImage, ProviderError
from muralist.tools.providers.openai_images import OpenAIImagesClient, image_size
from tests.fakes.openai_images import FakeOpenAIImages
from tests.fakes.provider_base import Failure, png_bytes


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIImages]:
    with FakeOpenAIImages() as server:
        yield server


@pytest.fixture
async def http(fake: FakeOpenAIImages) -> AsyncIterator[httpx.AsyncClient]:
    fake.reset()
    async with httpx.AsyncClient() as client:
        yield client


def client(http: httpx.AsyncClient, fake: FakeOpenAIImages, **kwargs: object) -> OpenAIImagesClient:
    return OpenAIImagesClient(http, fake.base_url, fake.api_key, **kwargs)  # type: ignore[arg-type]


def test_sizes_follow_model_family_and_ratio() -> None:
    assert image_size("gpt-image-1", "16:9") == "1536x1024"
    assert image_size("gpt-image-1", "9:16") == "1024x1536"
    assert image_size("dall-e-3", "3:4") == "1024x1792"
    assert image_size("dall-e-2", "16:9") == "1024x1024"
    assert image_size("gpt-image-1", "bogus") == "1024x1024"


async def test_generation_returns_decoded_pictures(
    http: httpx.AsyncClient, fake: FakeOpenAIImages
) -> None:
    pictures = await client(http, fake).generate(
        model="gpt-image-1", prompt="a red fox", size="1536x1024"
    )

    assert len(pictures) == 1
    assert Image.open(io.BytesIO(pictures[0])).size == (96, 64)
    sent = fake.requests[-1].json
    assert sent == {"model": "gpt-image-1", "prompt": "a red fox", "n": 1, "size": "1536x1024"}


async def test_dalle_asks_for_base64_and_url_answers_are_downloaded(
    http: httpx.AsyncClient, fake: FakeOpenAIImages
) -> None:
    fake.answer_urls = True
    pictures = await client(http, fake).generate(model="dall-e-3", prompt="x", size="1024x1024")

    assert fake.requests[0].json["response_format"] == "b64_json"
    assert Image.open(io.BytesIO(pictures[0])).format == "PNG"


async def test_edit_sends_every_image_as_multipart(
    http: httpx.AsyncClient, fake: FakeOpenAIImages
) -> None:
    images = [InputImage(f"in{i}.png", png_bytes(8, 8), "image/png") for i in range(2)]
    pictures = await client(http, fake).edit(
        model="gpt-image-1", prompt="merge", images=images, size="1024x1024"
    )

    assert len(pictures) == 1
    sent = fake.requests[-1]
    assert sent.path == "/v1/images/edits"
    assert [name for name, _, _ in sent.files["image[]"]] == ["in0.png", "in1.png"]
    assert sent.form["prompt"] == "merge"
    assert sent.form["model"] == "gpt-image-1"


async def test_client_error_carries_openai_message(
    http: httpx.AsyncClient, fake: FakeOpenAIImages
) -> None:
    fake.fail = Failure(400, "Your request was rejected by the safety system.")
    with pytest.raises(ProviderError) as caught:
        await client(http, fake).generate(model="gpt-image-1", prompt="x", size="1024x1024")
    assert caught.value.status == 400
    assert "rejected by the safety system" in caught.value.message
    assert caught.value.message.startswith("openai: HTTP 400")


async def test_wrong_key_is_a_401_error(http: httpx.AsyncClient, fake: FakeOpenAIImages) -> None:
    bad = OpenAIImagesClient(http, fake.base_url, "sk-wrong")
    with pytest.raises(ProviderError, match="Incorrect API key"):
        await bad.generate(model="gpt-image-1", prompt="x", size="1024x1024")


async def test_server_error_is_reported(http: httpx.AsyncClient, fake: FakeOpenAIImages) -> None:
    fake.fail = Failure(500, "The server had an error while processing your request.")
    with pytest.raises(ProviderError, match="HTTP 500: The server had an error"):
        await client(http, fake).generate(model="gpt-image-1", prompt="x", size="1024x1024")


async def test_timeout_names_the_host(http: httpx.AsyncClient, fake: FakeOpenAIImages) -> None:
    fake.stall_s = 2.0
    slow = client(http, fake, timeout=httpx.Timeout(0.2))
    with pytest.raises(ProviderError, match="did not answer in time") as caught:
        await slow.generate(model="gpt-image-1", prompt="x", size="1024x1024")
    assert "127.0.0.1" in caught.value.message


async def test_result_url_that_404s_is_an_error(
    http: httpx.AsyncClient, fake: FakeOpenAIImages
) -> None:
    fake.answer_urls = True
    fake.broken_result = True
    with pytest.raises(ProviderError, match="HTTP 404"):
        await client(http, fake).generate(model="dall-e-3", prompt="x", size="1024x1024")


async def test_edit_without_images_is_refused_locally(
    http: httpx.AsyncClient, fake: FakeOpenAIImages
) -> None:
    with pytest.raises(ProviderError, match="at least one input image"):
        await client(http, fake).edit(model="gpt-image-1", prompt="x", images=[], size="1024x1024")
    assert fake.requests == []
