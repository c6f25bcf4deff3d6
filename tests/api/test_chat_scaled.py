"""Scaled mode: a chat turn runs on server A; server B refuses a second turn and cancels it."""

from pathlib import Path

import pytest

from tests.agents.socket_support import chat_body, configure_provider, watching
from tests.fakes.openai_chat import FakeOpenAIChat, Reply
from tests.support import (
    REDIS_URL,
    make_settings,
    postgres_database,
    require_services,
    running_server,
)


@pytest.mark.postgres
async def test_turn_on_one_server_is_guarded_and_cancelled_from_another(
    tmp_path: Path, llm: FakeOpenAIChat, redis_prefix: str
) -> None:
    require_services(postgres=True)
    prefix = redis_prefix
    async with postgres_database() as url:
        shared = {"database_url": url, "redis_url": REDIS_URL, "redis_prefix": prefix}
        async with (
            running_server(make_settings(tmp_path / "a", **shared)) as a,
            running_server(make_settings(tmp_path / "b", **shared)) as b,
        ):
            await configure_provider(a, llm.base_url)
            llm.script(Reply(chunks=["tick "] * 200, delay=0.02))
            async with watching(b, join="s-x") as (watcher, _):
                assert (await a.client.post("/api/chat", json=chat_body("s-x", "go"))).is_success
                await watcher.wait_type("s-x", "delta")  # events of A reach B's socket
                second = await b.client.post("/api/chat", json=chat_body("s-x", "again"))
                assert second.status_code == 409
                cancel = await b.client.post("/api/cancel/s-x")
                assert cancel.json() == {"status": "cancelled"}
                await watcher.wait_type("s-x", "done")
            assert watcher.types("s-x").count("done") == 1
            stored = (await b.client.get("/api/chat_session/s-x")).json()
            assert stored[-1]["role"] == "assistant" and stored[-1]["content"].startswith("tick")
