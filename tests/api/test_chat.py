"""POST /api/chat end to end: real server, real Socket.IO clients, loopback model fake."""

import pytest

from muralist.agents.runner import TurnBudget
from tests.agents.socket_support import MODEL, PROVIDER, chat_body, configure_provider, watching
from tests.fakes.openai_chat import FakeOpenAIChat, Reply, ToolCallScript, tool
from tests.support import RunningServer

PLAN = '{"steps": [{"title": "Sketch"}, {"title": "Paint"}]}'


async def test_whole_turn_reaches_joined_and_unjoined_sockets(
    server: RunningServer, llm: FakeOpenAIChat
) -> None:
    await configure_provider(server, llm.base_url)
    llm.script(
        Reply(text="Planning.", tool_calls=[ToolCallScript("write_plan", PLAN)]),
        tool("transfer_to_image_video_creator"),
        Reply(chunks=["All ", "done."]),
    )
    async with watching(server, join="s-full") as (joined, _), watching(server) as (stock, _):
        response = await server.client.post("/api/chat", json=chat_body("s-full", "A poster"))
        assert response.status_code == 200 and response.json()["status"] == "started"
        await joined.wait_type("s-full", "done")
        await stock.wait_type("s-full", "done")

    kinds = joined.types("s-full")
    assert kinds == stock.types("s-full")
    assert kinds[0] == "delta" and kinds[-1] == "done" and kinds.count("done") == 1
    assert kinds.count("tool_call") == 2 and kinds.count("tool_call_result") == 2
    # Wire fields the UI reads (contract 3.3): the literal "{}" as arguments, then fragments.
    started = [u for u in joined.of("s-full") if u["type"] == "tool_call"]
    assert [(u["name"], u["arguments"]) for u in started] == [
        ("write_plan", "{}"),
        ("transfer_to_image_video_creator", "{}"),
    ]
    plan_id = started[0]["id"]
    assert plan_id and plan_id != started[1]["id"]
    fragments = {u["id"]: "" for u in started}
    for update in joined.of("s-full"):
        if update["type"] == "tool_call_arguments":
            fragments[update["id"]] += update["text"]
    assert fragments == {plan_id: PLAN, started[1]["id"]: "{}"}
    seqs = [u["seq"] for u in joined.of("s-full")]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    final = [u for u in joined.of("s-full") if u["type"] == "all_messages"][-1]["messages"]
    assert [m.get("name") for m in final if m["role"] == "assistant"] == [
        "planner",
        "planner",
        "image_video_creator",
    ]
    assert final[-1]["content"] == "All done."

    stored = (await server.client.get("/api/chat_session/s-full")).json()
    assert stored == final
    canvas = (await server.client.get("/api/canvas/canvas1")).json()
    assert [s["id"] for s in canvas["sessions"]] == ["s-full"]
    # The request's url never reached anywhere; the configured fake got every call.
    assert len(llm.requests) == 3
    assert llm.requests[0].body["max_tokens"] == 256
    assert "Be brief." in llm.requests[0].body["messages"][0]["content"]


async def test_session_title_and_updated_at(server: RunningServer, llm: FakeOpenAIChat) -> None:
    await configure_provider(server, llm.base_url)
    llm.script("First.", "Second.")
    text = "Jazz night poster <aspect_ratio>3:4</aspect_ratio><quantity>2</quantity>"
    async with watching(server, join="s-title") as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-title", text))
        await watcher.wait_type("s-title", "done")
        sessions = (await server.client.get("/api/list_chat_sessions")).json()
        first = next(s for s in sessions if s["id"] == "s-title")
        assert first["title"] == "Jazz night poster"
        assert (first["model"], first["provider"]) == (MODEL, PROVIDER)

        history = (await server.client.get("/api/chat_session/s-title")).json()
        history.append({"role": "user", "content": [{"type": "text", "text": "again"}]})
        await server.client.post("/api/chat", json=chat_body("s-title", "", messages=history))
        await watcher.wait_type("s-title", "done", count=2)
    second = next(
        s
        for s in (await server.client.get("/api/list_chat_sessions")).json()
        if s["id"] == "s-title"
    )
    assert second["updated_at"] > first["updated_at"]
    assert second["title"] == "Jazz night poster"
    stored = (await server.client.get("/api/chat_session/s-title")).json()
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[-1] == {"role": "assistant", "content": "Second.", "name": "planner"}


async def test_second_turn_while_running_is_refused(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    llm.script(Reply(chunks=["slow "] * 100, delay=0.05))
    async with watching(server, join="s-busy") as (watcher, _):
        assert (
            await server.client.post("/api/chat", json=chat_body("s-busy", "one"))
        ).status_code == 200
        await watcher.wait_type("s-busy", "delta")
        again = await server.client.post("/api/chat", json=chat_body("s-busy", "two"))
        assert again.status_code == 409
        assert "session_id" in again.json()["detail"]
        cancel = await server.client.post("/api/cancel/s-busy")
        assert cancel.json() == {"status": "cancelled"}
        await watcher.wait_type("s-busy", "done")
    assert watcher.types("s-busy").count("done") == 1
    stored = (await server.client.get("/api/chat_session/s-busy")).json()
    assert [m["content"] for m in stored if m["role"] == "user"] == [
        [{"type": "text", "text": "one"}]
    ]  # the refused turn stored nothing


async def test_cancel_mid_stream_keeps_partial_text(
    server: RunningServer, llm: FakeOpenAIChat
) -> None:
    await configure_provider(server, llm.base_url)
    llm.script(Reply(chunks=["Once ", "upon ", "a ", "time "] * 40, delay=0.03))
    async with watching(server, join="s-cancel") as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-cancel", "story"))
        await watcher.wait_type("s-cancel", "delta", count=3)
        answer = await server.client.post("/api/cancel/s-cancel")
        assert answer.json() == {"status": "cancelled"}
        await watcher.wait_type("s-cancel", "done")
        assert not server.services.chat.turns.running("s-cancel")
    streamed = "".join(u["text"] for u in watcher.of("s-cancel") if u["type"] == "delta")
    stored = (await server.client.get("/api/chat_session/s-cancel")).json()
    assert stored[-1] == {"role": "assistant", "content": streamed, "name": "planner"}
    again = await server.client.post("/api/cancel/s-cancel")
    assert again.json() == {"status": "not_found_or_done"}
    assert (await server.client.post("/api/magic/cancel/nobody")).json() == {
        "status": "not_found_or_done"
    }


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (Reply(status=401, error="Incorrect API key provided"), "HTTP 401"),
        (Reply(status=429), "HTTP 429"),
        (Reply(status=500), "HTTP 500"),
        (Reply(text="z" * 100, cut_after=3), "broke off"),
        (Reply(text="z" * 100, garbage=True), "not JSON"),
    ],
)
async def test_provider_failure_is_one_error_then_one_done(
    sqlite_server: RunningServer, llm: FakeOpenAIChat, reply: Reply, cause: str
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    llm.script(reply)
    async with watching(server) as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-fail", "hi"))
        await watcher.wait_type("s-fail", "done")
    kinds = watcher.types("s-fail")
    assert kinds.count("error") == 1 and kinds.count("done") == 1
    assert kinds.index("error") < kinds.index("done")
    error = next(u for u in watcher.of("s-fail") if u["type"] == "error")["error"]
    assert error.startswith(f"{PROVIDER} ({MODEL}): ") and cause in error


async def test_unconfigured_provider_is_reported_over_the_socket(
    sqlite_server: RunningServer,
) -> None:
    server = sqlite_server
    body = chat_body(
        "s-noprov", "hi", canvas_id="", text_model={"provider": "openai", "model": "gpt-4o"}
    )
    async with watching(server) as (watcher, _):
        assert (await server.client.post("/api/chat", json=body)).status_code == 200
        await watcher.wait_type("s-noprov", "done")
    error = next(u for u in watcher.of("s-noprov") if u["type"] == "error")["error"]
    assert "openai" in error and "api_key" in error


async def test_chat_on_an_unknown_canvas_is_refused(sqlite_server: RunningServer) -> None:
    body = chat_body("s-nocanvas", "hi", canvas_id="no-such-canvas")
    response = await sqlite_server.client.post("/api/chat", json=body)
    assert response.status_code == 404 and "canvas_id" in response.json()["detail"]
    assert (await sqlite_server.client.post("/api/cancel/s-nocanvas")).json() == {
        "status": "not_found_or_done"
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"messages": []}, "messages"),
        ({"session_id": ""}, "session_id"),
        ({"session_id": "bad id!"}, "session_id"),
        ({"text_model": {"provider": "", "model": "m"}}, "provider"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "role"),
        ({"tool_list": "all"}, "tool_list"),
    ],
)
async def test_bad_bodies_are_refused_naming_the_field(
    sqlite_server: RunningServer, change: dict, field: str
) -> None:
    body = {**chat_body("s-bad", "x"), **change}
    response = await sqlite_server.client.post("/api/chat", json=body)
    assert 400 <= response.status_code < 500
    assert field in str(response.json()["detail"])
    assert (await sqlite_server.client.get("/api/chat_session/s-bad")).json() == []


async def test_step_budget_reports_an_error(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    server.services.chat.budget = TurnBudget(max_steps=2)
    llm.default = tool("write_plan", PLAN)
    async with watching(server) as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-budget", "loop"))
        await watcher.wait_type("s-budget", "done")
    error = next(u for u in watcher.of("s-budget") if u["type"] == "error")["error"]
    assert "budget of 2 model calls" in error
    assert len(llm.requests) == 2


async def test_canvas_create_starts_the_first_turn(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    llm.script("Welcome to your canvas.")
    body = chat_body("s-canvas", "A logo", canvas_id="cv-new")
    body["name"] = "New canvas"
    async with watching(server) as (watcher, _):
        response = await server.client.post("/api/canvas/create", json=body)
        assert response.json() == {"id": "cv-new"}
        await watcher.wait_type("s-canvas", "done")
    canvas = (await server.client.get("/api/canvas/cv-new")).json()
    assert [s["id"] for s in canvas["sessions"]] == ["s-canvas"]
    assert canvas["sessions"][0]["title"] == "A logo"
    stored = (await server.client.get("/api/chat_session/s-canvas")).json()
    assert stored[-1]["content"] == "Welcome to your canvas."


async def test_canvas_create_with_a_bad_chat_body_writes_nothing(
    sqlite_server: RunningServer,
) -> None:
    body = chat_body("s-x", "hi", canvas_id="cv-bad", text_model={"provider": "p"})
    body["name"] = "Bad"
    response = await sqlite_server.client.post("/api/canvas/create", json=body)
    assert response.status_code == 400 and "text_model.model" in response.json()["detail"]
    assert (await sqlite_server.client.get("/api/canvas/cv-bad")).status_code == 404


async def test_long_answer_is_checkpointed_while_it_streams(
    sqlite_server: RunningServer, llm: FakeOpenAIChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from muralist.agents import recorder

    monkeypatch.setattr(recorder, "CHECKPOINT_S", 0.05)
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    llm.script(Reply(chunks=["word "] * 200, delay=0.02))
    async with watching(server, join="s-ckpt") as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-ckpt", "long"))
        await watcher.wait_type("s-ckpt", "delta", count=15)
        stored = (await server.client.get("/api/chat_session/s-ckpt")).json()
        # A crash now would keep this much: a partial answer already in the database.
        assert stored[-1]["role"] == "assistant" and stored[-1]["name"] == "planner"
        assert stored[-1]["content"].startswith("word word ")
        await server.client.post("/api/cancel/s-ckpt")
        await watcher.wait_type("s-ckpt", "done")
    streamed = "".join(u["text"] for u in watcher.of("s-ckpt") if u["type"] == "delta")
    final = (await server.client.get("/api/chat_session/s-ckpt")).json()
    assert [m["role"] for m in final] == ["user", "assistant"]  # one row, updated in place
    assert final[-1]["content"] == streamed


async def test_history_is_repaired_before_the_model_sees_it(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    llm.script("Fine.")
    broken = [
        {"role": "user", "content": "draw"},
        {
            "role": "assistant",
            "content": "",
            "name": "image_video_creator",
            "tool_calls": [
                {"id": "lost", "type": "function", "function": {"name": "x", "arguments": "{}"}}
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "hello?"}]},
    ]
    async with watching(server, join="s-repair") as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-repair", "", messages=broken))
        await watcher.wait_type("s-repair", "done")
    sent = llm.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "user"]
    # With the dangling call gone, the last speaker is unknown again: the planner answers.
    assert "write_plan" in [t["function"]["name"] for t in llm.requests[0].body["tools"]]
    final = (await watcher.wait_type("s-repair", "all_messages"))["messages"]
    assert len(final) == 3 and final[-1]["name"] == "planner"


async def test_anthropic_provider_end_to_end(sqlite_server: RunningServer) -> None:
    from tests.fakes.anthropic_messages import FakeAnthropic

    server = sqlite_server
    with FakeAnthropic() as claude:
        claude.api_key = "fake-key"
        claude.script("Bonjour.")
        await configure_provider(server, claude.base_url, api="anthropic")
        body = chat_body("s-claude", "salut")
        async with watching(server) as (watcher, _):
            await server.client.post("/api/chat", json=body)
            await watcher.wait_type("s-claude", "done")
    assert watcher.types("s-claude")[-1] == "done" and "error" not in watcher.types("s-claude")
    assert claude.requests[0].body["max_tokens"] == 256
    stored = (await server.client.get("/api/chat_session/s-claude")).json()
    assert stored[-1]["content"] == "Bonjour."


async def test_settings_prompt_and_enabled_knowledge_reach_the_agents(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    knowledge = [{"id": "k1", "name": "Brand book", "content": "Our colour is teal."}]
    await server.services.user_settings.update(
        {"system_prompt": "Speak like a pirate.", "enabled_knowledge_data": knowledge}
    )
    llm.script("Arr.")
    async with watching(server) as (watcher, _):
        body = chat_body("s-know", "hi", system_prompt=None)
        await server.client.post("/api/chat", json=body)
        await watcher.wait_type("s-know", "done")
    system = llm.requests[0].body["messages"][0]["content"]
    assert "Speak like a pirate." in system
    assert "## Brand book\nOur colour is teal." in system


async def test_cancel_right_after_post_ends_the_turn_and_frees_the_session(
    sqlite_server: RunningServer, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await configure_provider(server, llm.base_url)
    llm.default = Reply(chunks=["a "] * 50, delay=0.02)
    async with watching(server, join="s-quick") as (watcher, _):
        await server.client.post("/api/chat", json=chat_body("s-quick", "one"))
        assert (await server.client.post("/api/cancel/s-quick")).json() == {"status": "cancelled"}
        await watcher.wait_type("s-quick", "done")
        history = (await server.client.get("/api/chat_session/s-quick")).json()
        history.append({"role": "user", "content": "two"})
        again = await server.client.post(
            "/api/chat", json=chat_body("s-quick", "", messages=history)
        )
        assert again.status_code == 200
        await server.client.post("/api/cancel/s-quick")
        await watcher.wait_type("s-quick", "done", count=2)
    assert watcher.types("s-quick").count("done") == 2
