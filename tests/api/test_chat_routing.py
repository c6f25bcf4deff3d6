"""Which model and which agent a turn talks to: Ollama's address, handing back, resuming."""

from pathlib import Path

from tests.agents.socket_support import chat_body, configure_provider, watching
from tests.fakes.openai_chat import FakeOpenAIChat, tool
from tests.support import RunningServer, make_settings, running_server


async def test_ollama_chats_at_the_address_its_models_are_listed_from(
    tmp_path: Path, llm: FakeOpenAIChat
) -> None:
    # Ollama's URL left empty in config.toml: list_models and chat both use MURALIST_OLLAMA_URL.
    settings = make_settings(tmp_path / "data", ollama_url=llm.base_url.removesuffix("v1/"))
    async with running_server(settings) as server:
        await configure_provider(server, llm.base_url)
        await server.services.config.update({"ollama": {"url": "", "api_key": ""}})
        llm.script("Hello from a local model.")
        body = chat_body("s-ollama", "hi")
        body["text_model"] = {"provider": "ollama", "model": "llama3", "url": "", "type": "text"}
        async with watching(server, join="s-ollama") as (watcher, _):
            await server.client.post("/api/chat", json=body)
            await watcher.wait_type("s-ollama", "done")
        assert "error" not in watcher.types("s-ollama")
        assert llm.requests[-1].body["model"] == "llama3"


async def test_creator_hands_back_and_the_next_turn_resumes_with_the_planner(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    await configure_provider(sqlite_server, llm.base_url)
    body = chat_body("s-back", "now plan the next poster")
    body["messages"] = [
        {"role": "user", "content": "a poster"},
        {"role": "assistant", "content": "Made it.", "name": "image_video_creator"},
        *body["messages"],
    ]
    llm.script(tool("transfer_to_planner"), "Here is the next plan.")
    async with watching(sqlite_server, join="s-back") as (watcher, _):
        await sqlite_server.client.post("/api/chat", json=body)
        await watcher.wait_type("s-back", "done")
    # The creator spoke first (it spoke last before), then handed over to the planner.
    first_tools = [t["function"]["name"] for t in llm.requests[0].body["tools"]]
    second_tools = [t["function"]["name"] for t in llm.requests[1].body["tools"]]
    assert "transfer_to_planner" in first_tools and "write_plan" not in first_tools
    assert "write_plan" in second_tools and "transfer_to_planner" not in second_tools
    stored = (await sqlite_server.client.get("/api/chat_session/s-back")).json()
    assert stored[-1] == {
        "role": "assistant",
        "content": "Here is the next plan.",
        "name": "planner",
    }

    llm.script("Still the planner.")
    follow = chat_body("s-back", "thanks")
    follow["messages"] = [*stored, *follow["messages"]]
    async with watching(sqlite_server, join="s-back") as (watcher, _):
        await sqlite_server.client.post("/api/chat", json=follow)
        await watcher.wait_type("s-back", "done")
    assert "write_plan" in [t["function"]["name"] for t in llm.requests[2].body["tools"]]
