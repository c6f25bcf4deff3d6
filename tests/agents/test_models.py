"""The model factory and every way a provider can fail, through real HTTP on loopback."""

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest

from muralist.agents.models import ModelConfigError, ModelFactory, endpoint_for, provider_kind
from muralist.agents.runner import TurnFailed
from tests.agents.support import make_runner, provider_config, user
from tests.fakes.anthropic_messages import FakeAnthropic
from tests.fakes.openai_chat import FakeOpenAIChat, Reply, ToolCallScript


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_endpoint_comes_from_config_with_extras() -> None:
    ollama = endpoint_for("ollama", {"url": "http://localhost:11434", "api_key": ""})
    assert ollama.base_url == "http://localhost:11434/v1/"
    openai = endpoint_for(
        "openai", {"url": "https://api.openai.com/v1/", "api_key": "k", "max_tokens": 8192}
    )
    assert (openai.max_tokens, openai.max_tokens_field) == (8192, "max_completion_tokens")
    custom = endpoint_for(
        "volces", {"url": "https://ark.example/api/v3/", "api_key": "k", "timeout": 9, "retries": 5}
    )
    assert (custom.timeout_s, custom.retries, custom.max_tokens_field) == (9.0, 5, "max_tokens")
    gemini = endpoint_for("gemini", {"url": "", "api_key": "g"})
    assert gemini.base_url.endswith("/v1beta/openai/")
    assert provider_kind("claude", {"url": "https://api.anthropic.com/v1"}) == "anthropic"


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("nope", None, "provider 'nope' is not configured"),
        ("openai", {"url": "", "api_key": "k"}, "has no url"),
        ("openai", {"url": "https://api.openai.com/v1/", "api_key": " "}, "has no api_key"),
    ],
)
def test_unusable_provider_says_what_to_configure(
    name: str, config: dict | None, message: str
) -> None:
    with pytest.raises(ModelConfigError, match=message):
        ModelFactory().build(name, config, "gpt-4o")


FAILURES = [
    (
        Reply(status=401, error="Incorrect API key provided"),
        "authentication failed.*HTTP 401.*Incorrect API key",
    ),
    (Reply(status=429, error="Rate limit reached"), "rate limited.*HTTP 429.*Rate limit reached"),
    (Reply(status=500, error="boom"), "server failed.*HTTP 500.*boom"),
    (Reply(text="x" * 200, cut_after=4), "stream broke off"),
    (Reply(text="x" * 200, garbage=True), "not JSON"),
    (Reply(stall=3), "no answer from .* within 0.5 s"),
]


@pytest.mark.parametrize(("reply", "cause"), FAILURES)
async def test_openai_compatible_failures_name_provider_and_cause(
    llm: FakeOpenAIChat, factory: ModelFactory, reply: Reply, cause: str
) -> None:
    llm.script(reply)
    config = provider_config(llm.base_url, timeout=0.5)
    runner, seen = make_runner(
        factory, llm.base_url, [user("hi")], provider="deepseek", config=config
    )
    with pytest.raises(TurnFailed, match=f"^deepseek \\(test-model\\): .*{cause}"):
        await runner.run()


async def test_provider_down(factory: ModelFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/"
    runner, _ = make_runner(
        factory, url, [user("hi")], provider="ollama", config=provider_config(url, retries=1)
    )
    with pytest.raises(
        TurnFailed, match=r"^ollama \(test-model\): cannot reach .*ConnectError after 2 attempts"
    ):
        await runner.run()


class _FirstRefusal(logging.Handler):
    def __init__(self, loop: asyncio.AbstractEventLoop, refused: asyncio.Event) -> None:
        super().__init__(logging.DEBUG)
        self._loop, self._refused = loop, refused

    def emit(self, record: logging.LogRecord) -> None:
        if "connect_tcp.failed" in record.getMessage():
            self._loop.call_soon_threadsafe(self._refused.set)


@pytest.fixture
def connection_log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("httpcore2.connection")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    yield logger
    logger.setLevel(level)


async def test_connection_is_retried_before_the_first_token(
    factory: ModelFactory, connection_log: logging.Logger
) -> None:
    port = free_port()
    fake = FakeOpenAIChat(port=port)
    refused = asyncio.Event()
    handler = _FirstRefusal(asyncio.get_running_loop(), refused)
    connection_log.addHandler(handler)
    url = f"http://127.0.0.1:{port}/v1/"
    runner, seen = make_runner(factory, url, [user("hi")], config=provider_config(url, retries=4))
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(refused.wait(), 5)  # the server is down for the first attempt
        with fake:
            fake.script("made it")
            await asyncio.wait_for(task, 10)
    finally:
        connection_log.removeHandler(handler)
    assert seen.events[-2].message["content"] == "made it"
    assert len(fake.requests) == 1


async def test_anthropic_turn_with_tool_call(
    anthropic_fake: FakeAnthropic, factory: ModelFactory
) -> None:
    anthropic_fake.api_key = "test-key"
    anthropic_fake.script(
        Reply(
            text="Planning.",
            tool_calls=[ToolCallScript("write_plan", '{"steps": [{"title": "A"}]}')],
        ),
        "All set.",
    )
    runner, seen = make_runner(factory, anthropic_fake.base_url, [user("hi")], provider="anthropic")
    await runner.run()
    stored = [e.message for e in seen.events if e.type == ""]
    assert (
        stored[0]["content"] == "Planning."
        and stored[0]["tool_calls"][0]["function"]["name"] == "write_plan"
    )
    assert stored[1]["role"] == "tool" and stored[2]["content"] == "All set."
    first = anthropic_fake.requests[0].body
    assert first["max_tokens"] == 100 and "Always be brief." in first["system"]
    second = anthropic_fake.requests[1].body["messages"]
    assert second[-1]["content"][0]["type"] == "tool_result"


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (
            Reply(status=401, error="invalid x-api-key"),
            "authentication failed.*HTTP 401.*invalid x-api-key",
        ),
        (Reply(status=529, error="Overloaded"), "server failed.*HTTP 529.*Overloaded"),
        (Reply(text="y" * 100, cut_after=3), "anthropic \\(test-model\\): "),
        (Reply(text="y" * 100, garbage=True), "anthropic \\(test-model\\): .*JSON"),
    ],
)
async def test_anthropic_failures(
    anthropic_fake: FakeAnthropic, factory: ModelFactory, reply: Reply, cause: str
) -> None:
    anthropic_fake.script(reply)
    runner, _ = make_runner(factory, anthropic_fake.base_url, [user("hi")], provider="anthropic")
    with pytest.raises(TurnFailed, match=cause):
        await runner.run()
