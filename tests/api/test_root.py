"""Models, tools and chat-history routes."""

import asyncio
from pathlib import Path

from tests.fakes.ollama import FakeOllama
from tests.support import RunningServer, make_settings, running_server


async def _set_config(server: RunningServer, changes: dict) -> None:
    config = (await server.client.get("/api/config")).json()
    config.update(changes)
    response = await server.client.post("/api/config", json=config)
    assert response.json()["status"] == "success", response.text


async def test_models_need_url_and_key(server: RunningServer) -> None:
    assert (await server.client.get("/api/list_models")).json() == []
    await _set_config(
        server,
        {
            "openai": {
                "url": "https://api.openai.com/v1/",
                "api_key": "sk-test-key-123456",
                "models": {
                    "gpt-4o": {"type": "text"},
                    "gpt-image-1": {"type": "image"},
                    "old": {"type": "text", "is_disabled": True},
                },
            },
            "nokey": {"url": "http://127.0.0.1:9/v1", "api_key": " ", "models": {"m": {}}},
        },
    )
    models = (await server.client.get("/api/list_models")).json()
    pairs = [(m["provider"], m["model"]) for m in models if m["provider"] != "ollama"]
    assert ("openai", "gpt-4o") in pairs
    assert ("openai", "gpt-4o-mini") in pairs  # a default model stays listed
    assert ("openai", "gpt-image-1") not in pairs
    assert ("openai", "old") not in pairs
    assert not any(provider == "nokey" for provider, _ in pairs)
    assert all(m["type"] == "text" and m["url"] for m in models)


async def test_ollama_models_discovered_without_blocking(tmp_path: Path) -> None:
    async with FakeOllama(["llama3.2:3b", "qwen2.5:7b"]) as ollama:
        ollama.open.clear()
        settings = make_settings(tmp_path / "data", ollama_url=ollama.url)
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "config.toml").write_text(
            f'[ollama]\nurl = "{ollama.url}"\napi_key = ""\n'
        )
        async with running_server(settings) as server:
            await asyncio.wait_for(ollama.requested.wait(), 10)
            # Ollama is holding its answer, yet the model list answers now.
            held = (await server.client.get("/api/list_models")).json()
            assert [m for m in held if m["provider"] == "ollama"] == []
            assert not ollama.open.is_set()

            ollama.open.set()
            await asyncio.wait_for(server.services.models.refresh(), 10)
            models = (await server.client.get("/api/list_models")).json()
            found = [(m["model"], m["url"]) for m in models if m["provider"] == "ollama"]
            assert found == [("llama3.2:3b", ollama.url), ("qwen2.5:7b", ollama.url)]


async def test_tools_follow_configured_keys(server: RunningServer) -> None:
    assert (await server.client.get("/api/list_tools")).json() == []
    await _set_config(
        server,
        {
            "replicate": {"url": "https://api.replicate.com/v1/", "api_key": "r8_abcdefghijkl"},
        },
    )
    tools = (await server.client.get("/api/list_tools")).json()
    assert tools and all(t["provider"] == "replicate" for t in tools)
    assert {"id", "provider", "type", "display_name"} == set(tools[0])
    assert "write_plan" not in [t["id"] for t in tools]

    await server.client.post("/api/config", json={"replicate": None})
    assert (await server.client.get("/api/list_tools")).json() == []


async def test_sessions_newest_first_and_cache_follows_writes(server: RunningServer) -> None:
    store = server.services.store
    await store.canvases.create("c1", "Canvas")
    await store.sessions.create("a", canvas_id="c1", title="A", model="m", provider="p")
    await store.sessions.create("b", canvas_id="c1", title="B")

    first = (await server.client.get("/api/list_chat_sessions")).json()
    assert [s["id"] for s in first] == ["b", "a"]
    assert first[1] | {"created_at": "", "updated_at": ""} == {
        "id": "a",
        "title": "A",
        "model": "m",
        "provider": "p",
        "created_at": "",
        "updated_at": "",
    }

    await store.sessions.touch("a", title="A, renamed")
    second = (await server.client.get("/api/list_chat_sessions")).json()
    assert [s["id"] for s in second] == ["a", "b"]
    assert second[0]["title"] == "A, renamed"


async def test_chat_session_returns_messages_in_order(server: RunningServer) -> None:
    store = server.services.store
    await store.canvases.create("c1", "Canvas")
    await store.sessions.create("s1", canvas_id="c1")
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "a poster"}]},
        {"role": "assistant", "content": "Sure", "name": "planner"},
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ]
    for message in messages:
        await store.messages.add("s1", message)
    assert (await server.client.get("/api/chat_session/s1")).json() == messages
    assert (await server.client.get("/api/chat_session/unknown")).json() == []
