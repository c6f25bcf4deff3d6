"""Chat turns that run real generation tools (through the registry, against provider fakes),
tool confirmation, cancel at each stage, and magic (cloud and local)."""

import base64
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from muralist.agents.magic import NO_IMAGE, SUCCESS
from muralist.agents.runner import STOPPED_TEXT
from muralist.agents.tools import CANCELLED_TEXT
from tests.agents.socket_support import PROVIDER, chat_body, configure_provider, watching
from tests.fakes.openai_chat import FakeOpenAIChat, Reply, ToolCallScript, tool
from tests.fakes.provider_base import png_bytes
from tests.support import RunningServer
from tests.tools.helpers import Fakes, all_fakes, configured_server

IMAGE_TOOL = "generate_image_by_imagen_4_replicate"
VEO3 = "generate_video_by_veo3_fast_jaaz"
SNAPSHOT = "data:image/png;base64," + base64.b64encode(png_bytes(64, 48)).decode()


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with all_fakes() as started:
        yield started


@pytest.fixture
async def app(tmp_path: Path, fakes: Fakes, llm: FakeOpenAIChat) -> AsyncIterator[RunningServer]:
    async with configured_server(tmp_path, fakes) as server:
        await configure_provider(server, llm.base_url)
        yield server


def creator_body(session_id: str, text: str, *tool_ids: str) -> dict:
    body = chat_body(session_id, text, tool_list=[{"id": t} for t in tool_ids])
    # The session spoke with the creator last, so this turn resumes with it.
    body["messages"] = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi, what shall I make?", "name": "image_video_creator"},
        *body["messages"],
    ]
    return body


async def test_creator_generates_an_image_onto_the_canvas(
    app: RunningServer, llm: FakeOpenAIChat, fakes: Fakes
) -> None:
    listed = [t["id"] for t in (await app.client.get("/api/list_tools")).json()]
    assert IMAGE_TOOL in listed
    llm.script(
        Reply(
            text="Strategy: moody blues.",
            tool_calls=[ToolCallScript(IMAGE_TOOL, '{"prompt": "a jazz trumpet"}')],
        ),
        "Here is your poster.",
    )
    async with watching(app, join="s-img") as (watcher, _), watching(app) as (stock, _):
        response = await app.client.post(
            "/api/chat", json=creator_body("s-img", "a poster", IMAGE_TOOL, "unknown_tool_id")
        )
        assert response.status_code == 200
        await watcher.wait_type("s-img", "done")
        await stock.wait_type("s-img", "done")

    tools_sent = [t["function"]["name"] for t in llm.requests[0].body["tools"]]
    assert tools_sent == [IMAGE_TOOL, "transfer_to_planner"]
    generated = await watcher.wait_type("s-img", "image_generated")
    assert generated["canvas_id"] == "canvas1"
    assert any(u["type"] == "image_generated" for u in stock.of("s-img"))
    result = await watcher.wait_type("s-img", "tool_call_result")
    file_name = generated["image_url"].rsplit("/", 1)[1]
    assert f"image_id: {file_name}" in result["message"]["content"]
    canvas = (await app.client.get("/api/canvas/canvas1")).json()
    assert generated["element"]["id"] in canvas["data"]["files"]
    stored = (await app.client.get("/api/chat_session/s-img")).json()
    assert stored[-1] == {
        "role": "assistant",
        "content": "Here is your poster.",
        "name": "image_video_creator",
    }
    replicate_body = fakes.replicate.requests[-1].json
    assert replicate_body["input"]["prompt"] == "a jazz trumpet"


@pytest.mark.parametrize("confirmed", [True, False])
async def test_confirmation_flag_waits_for_the_user(
    app: RunningServer, llm: FakeOpenAIChat, confirmed: bool
) -> None:
    llm.script(tool(VEO3, '{"prompt": "ocean waves"}', id="call_veo"), "Finished.")
    async with watching(app, join="s-veo") as (watcher, _):
        await app.client.post("/api/chat", json=creator_body("s-veo", "a video", VEO3))
        pending = await watcher.wait_type("s-veo", "tool_call_pending_confirmation")
        assert (pending["id"], pending["name"]) == ("call_veo", VEO3)
        assert pending["arguments"] == '{"prompt": "ocean waves"}'
        answer = await app.client.post(
            "/api/tool_confirmation",
            json={"session_id": "s-veo", "tool_call_id": "call_veo", "confirmed": confirmed},
        )
        assert answer.json() == {"status": "success"}
        await watcher.wait_type("s-veo", "done")
        again = await app.client.post(
            "/api/tool_confirmation",
            json={"session_id": "s-veo", "tool_call_id": "call_veo", "confirmed": True},
        )
        assert again.status_code == 404  # finished entries are purged

    kinds = watcher.types("s-veo")
    assert "tool_call" not in kinds  # the pending event replaces it in the UI
    expected = "tool_call_confirmed" if confirmed else "tool_call_cancelled"
    assert expected in kinds
    result = await watcher.wait_type("s-veo", "tool_call_result")
    if confirmed:
        assert "video_id:" in result["message"]["content"]
        assert "video_generated" in kinds
    else:
        assert result["message"]["content"] == CANCELLED_TEXT
        assert "video_generated" not in kinds
    assert len(app.services.chat.confirmations) == 0


async def test_confirmation_timeout_cancels_the_call(
    app: RunningServer, llm: FakeOpenAIChat
) -> None:
    app.services.chat.confirmations.timeout_s = 0.2
    llm.script(tool(VEO3, '{"prompt": "rain"}', id="call_late"), "ok")
    async with watching(app, join="s-late") as (watcher, _):
        await app.client.post("/api/chat", json=creator_body("s-late", "video", VEO3))
        await watcher.wait_type("s-late", "done")
    result = await watcher.wait_type("s-late", "tool_call_result")
    assert result["message"]["content"] == CANCELLED_TEXT
    # The UI closes the Confirm / Cancel card only on this event.
    assert (await watcher.wait_type("s-late", "tool_call_cancelled"))["id"] == "call_late"
    late = await app.client.post(
        "/api/tool_confirmation",
        json={"session_id": "s-late", "tool_call_id": "call_late", "confirmed": True},
    )
    assert late.status_code == 404 and "tool_call_id" in late.json()["detail"]


async def test_cancel_while_waiting_for_confirmation(
    app: RunningServer, llm: FakeOpenAIChat
) -> None:
    llm.script(tool(VEO3, '{"prompt": "storm"}', id="call_wait"))
    async with watching(app, join="s-cw") as (watcher, _):
        await app.client.post("/api/chat", json=creator_body("s-cw", "video", VEO3))
        await watcher.wait_type("s-cw", "tool_call_pending_confirmation")
        assert (await app.client.post("/api/cancel/s-cw")).json() == {"status": "cancelled"}
        await watcher.wait_type("s-cw", "done")
    assert watcher.types("s-cw").count("done") == 1
    assert (await watcher.wait_type("s-cw", "tool_call_cancelled"))["id"] == "call_wait"
    stored = (await app.client.get("/api/chat_session/s-cw")).json()
    # Stored as the UI showed it when the card closed: cancelled.
    assert stored[-1] == {
        "role": "tool",
        "tool_call_id": "call_wait",
        "content": CANCELLED_TEXT,
        "name": VEO3,
    }
    assert len(app.services.chat.confirmations) == 0


async def test_cancel_while_a_tool_is_running(
    app: RunningServer, llm: FakeOpenAIChat, fakes: Fakes
) -> None:
    fakes.replicate.gate.clear()  # the provider holds the generation call
    llm.script(tool(IMAGE_TOOL, '{"prompt": "held"}', id="call_held"))
    try:
        async with watching(app, join="s-ct") as (watcher, _):
            await app.client.post("/api/chat", json=creator_body("s-ct", "pic", IMAGE_TOOL))
            await fakes.replicate.wait_for_request(lambda r: r.method == "POST")
            assert (await app.client.post("/api/cancel/s-ct")).json() == {"status": "cancelled"}
            await watcher.wait_type("s-ct", "done")
    finally:
        fakes.replicate.gate.set()
    assert "image_generated" not in watcher.types("s-ct")
    stored = (await app.client.get("/api/chat_session/s-ct")).json()
    assert stored[-1]["content"] == STOPPED_TEXT


async def test_cancel_ends_the_turn_while_the_provider_cancel_call_is_slow(
    app: RunningServer, llm: FakeOpenAIChat, fakes: Fakes
) -> None:
    fakes.replicate.endless = True  # the prediction is polled until cancelled
    fakes.replicate.cancel_gate.clear()  # and Replicate's cancel call hangs
    llm.script(tool(IMAGE_TOOL, '{"prompt": "slow"}', id="call_slow"))
    try:
        async with watching(app, join="s-slow") as (watcher, _):
            await app.client.post("/api/chat", json=creator_body("s-slow", "pic", IMAGE_TOOL))
            await fakes.replicate.wait_for_request(lambda r: r.method == "GET")
            assert (await app.client.post("/api/cancel/s-slow")).json() == {"status": "cancelled"}
            await fakes.replicate.wait_for_request(lambda r: r.path.endswith("/cancel"))
            await watcher.wait_type("s-slow", "done")
            # The turn ended while the provider still held the cancel call, so the session
            # takes a new turn at once.
            assert fakes.replicate.cancelled == []
            llm.script("Back again.")
            again = await app.client.post("/api/chat", json=creator_body("s-slow", "hi"))
            assert again.status_code == 200
            await watcher.wait_type("s-slow", "done", count=2)
    finally:
        fakes.replicate.cancel_gate.set()
    stored = (await app.client.get("/api/chat_session/s-slow")).json()
    assert {
        "role": "tool",
        "tool_call_id": "call_slow",
        "content": STOPPED_TEXT,
        "name": IMAGE_TOOL,
    } in stored


def magic_body(session_id: str, image: str | None = SNAPSHOT) -> dict:
    content: list[dict] = [
        {"type": "text", "text": "✨ Magic Magic! Wait about 1~2 minutes please..."}
    ]
    if image:
        content.append({"type": "image_url", "image_url": {"url": image}})
    return {
        "messages": [{"role": "user", "content": content}],
        "session_id": session_id,
        "canvas_id": "canvas1",
        "system_prompt": None,
    }


async def test_magic_through_the_jaaz_cloud(app: RunningServer, fakes: Fakes) -> None:
    async with watching(app) as (watcher, _):
        response = await app.client.post("/api/magic", json=magic_body("s-magic"))
        assert response.json() == {"status": "started"}
        await watcher.wait_type("s-magic", "done")
    generated = await watcher.wait_type("s-magic", "image_generated")
    assert (generated["element"]["width"], generated["element"]["height"]) == (50, 40)  # half
    final = (await watcher.wait_type("s-magic", "all_messages"))["messages"]
    reply = final[-1]["content"][0]["text"]
    assert reply.startswith(SUCCESS) and generated["image_url"] in reply
    assert f"Result url: {fakes.jaaz.origin}/files/" in reply  # the cloud's own result URL
    stored = (await app.client.get("/api/chat_session/s-magic")).json()
    assert stored == final
    assert any(r.path.endswith("/image/magic") for r in fakes.jaaz.requests)
    sessions = (await app.client.get("/api/list_chat_sessions")).json()
    assert next(s for s in sessions if s["id"] == "s-magic")["provider"] == "jaaz"


async def test_magic_without_an_image(app: RunningServer) -> None:
    async with watching(app) as (watcher, _):
        await app.client.post("/api/magic", json=magic_body("s-noimg", None))
        await watcher.wait_type("s-noimg", "done")
    final = (await watcher.wait_type("s-noimg", "all_messages"))["messages"]
    assert final[-1] == {"role": "assistant", "content": [{"type": "text", "text": NO_IMAGE}]}


async def test_magic_cancel(app: RunningServer, fakes: Fakes) -> None:
    fakes.jaaz.endless = True
    async with watching(app) as (watcher, _):
        await app.client.post("/api/magic", json=magic_body("s-mc"))
        await fakes.jaaz.wait_for_request(lambda r: r.path.endswith("/image/magic"))
        cancel = await app.client.post("/api/magic/cancel/s-mc")
        assert cancel.json() == {"status": "cancelled"}
        await watcher.wait_type("s-mc", "done")
    assert watcher.types("s-mc").count("done") == 1


async def test_local_magic_with_a_vision_model_and_an_image_tool(
    app: RunningServer, llm: FakeOpenAIChat, fakes: Fakes
) -> None:
    await app.services.config.update({"jaaz": {"url": "", "api_key": ""}})
    await app.services.tools.rebuild()
    await app.services.user_settings.update({"magic_model": f"{PROVIDER}:vision-1"})
    llm.script("A neon city skyline at dusk, cinematic, teal and orange.")
    async with watching(app) as (watcher, _):
        await app.client.post("/api/magic", json=magic_body("s-local"))
        await watcher.wait_type("s-local", "done")

    vision = llm.requests[0].body
    assert vision["model"] == "vision-1"
    parts = vision["messages"][-1]["content"]
    assert parts[-1]["image_url"]["url"] == SNAPSHOT
    generated = await watcher.wait_type("s-local", "image_generated")
    final = (await watcher.wait_type("s-local", "all_messages"))["messages"]
    assert final[-1]["content"][0]["text"].startswith(SUCCESS)
    canvas = (await app.client.get("/api/canvas/canvas1")).json()
    element = next(e for e in canvas["data"]["elements"] if e["id"] == generated["element"]["id"])
    assert element["width"] == generated["element"]["width"]
    # Placed at half the picture's pixel size, as the UI expects of magic results.
    picture = await app.client.get(generated["image_url"])
    width, height = Image.open(io.BytesIO(picture.content)).size
    assert (element["width"], element["height"]) == (round(width / 2), round(height / 2))
    # The first image tool that can edit got the snapshot as its input picture.
    edit = await fakes.openai.wait_for_request(lambda r: r.path.endswith("/images/edits"))
    assert edit.form["prompt"] == "A neon city skyline at dusk, cinematic, teal and orange."
    assert edit.files["image"][0][1] == png_bytes(64, 48)


async def test_local_magic_tells_the_user_when_the_vision_model_fails(
    app: RunningServer, llm: FakeOpenAIChat
) -> None:
    await app.services.config.update({"jaaz": {"url": "", "api_key": ""}})
    await app.services.tools.rebuild()
    await app.services.user_settings.update({"magic_model": f"{PROVIDER}:vision-1"})
    llm.script(Reply(status=401, error="Incorrect API key provided"))
    async with watching(app) as (watcher, _):
        await app.client.post("/api/magic", json=magic_body("s-badkey"))
        await watcher.wait_type("s-badkey", "done")
    final = (await watcher.wait_type("s-badkey", "all_messages"))["messages"]
    text = final[-1]["content"][0]["text"]
    assert text.startswith("✨ Magic Generation Error: ") and PROVIDER in text
    assert "authentication failed" in text and "image_generated" not in watcher.types("s-badkey")
    stored = (await app.client.get("/api/chat_session/s-badkey")).json()
    assert stored[-1] == final[-1]


async def test_local_magic_without_models_says_what_to_configure(tmp_path: Path) -> None:
    from tests.support import make_settings, running_server

    async with running_server(make_settings(tmp_path / "bare")) as server:
        await server.services.store.canvases.create("canvas1", "c")
        async with watching(server) as (watcher, _):
            await server.client.post("/api/magic", json=magic_body("s-bare"))
            await watcher.wait_type("s-bare", "done")
    final = (await watcher.wait_type("s-bare", "all_messages"))["messages"]
    text = final[-1]["content"][0]["text"]
    assert text.startswith("✨ ") and "Settings" in text
