"""The turn runner against a real OpenAI-compatible SSE server on loopback."""

import asyncio

import pytest

from muralist.agents.events import (
    AllMessages,
    MessageCompleted,
    TextDelta,
    ToolCallArguments,
    ToolCallPending,
    ToolCallResult,
    ToolCallStarted,
)
from muralist.agents.models import ModelFactory
from muralist.agents.runner import STOPPED_TEXT, TurnBudget, TurnFailed
from muralist.agents.tools import CANCELLED_TEXT, HIDE_MARKER
from tests.agents.support import DrawTool, args, make_runner, sent_tools, tool_messages, user
from tests.fakes.openai_chat import FakeOpenAIChat, Reply, ToolCallScript, tool

PLAN = args({"steps": [{"title": "Sketch"}, {"title": "Paint"}]})


async def test_text_answer_streams_deltas_then_stores_named_message(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    llm.script(Reply(chunks=["Hel", "lo ", "there"]))
    runner, seen = make_runner(factory, llm.base_url, [user("hi")])
    await runner.run()

    assert seen.types() == ["delta", "delta", "delta", "stored", "all_messages"]
    assert "".join(e.text for e in seen.events if isinstance(e, TextDelta)) == "Hello there"
    stored = seen.events[3]
    assert isinstance(stored, MessageCompleted)
    assert stored.message == {"role": "assistant", "content": "Hello there", "name": "planner"}
    final = seen.events[-1]
    assert isinstance(final, AllMessages)
    assert final.messages == [user("hi"), stored.message]

    body = llm.requests[0].body
    assert body["max_tokens"] == 100
    assert body["messages"][0]["role"] == "system"
    assert "Always be brief." in body["messages"][0]["content"]
    assert sent_tools(body) == ["write_plan", "transfer_to_image_video_creator"]
    assert llm.requests[0].headers["authorization"] == "Bearer test-key"


async def test_plan_handoff_and_creator_tool_call(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    draw = DrawTool()
    llm.script(
        Reply(text="Let me plan.", tool_calls=[ToolCallScript("write_plan", PLAN, fragments=4)]),
        tool("transfer_to_image_video_creator"),
        Reply(
            text="Strategy: warm colours.",
            tool_calls=[ToolCallScript("draw", args({"prompt": "jazz"}))],
        ),
        "Done, enjoy.",
    )
    runner, seen = make_runner(factory, llm.base_url, [user("a jazz poster")], tools=[draw])
    await runner.run()

    assert runner.active == "image_video_creator"
    assert [sent_tools(r.body) for r in llm.requests] == [
        ["write_plan", "transfer_to_image_video_creator"],
        ["write_plan", "transfer_to_image_video_creator"],
        ["draw", "transfer_to_planner"],
        ["draw", "transfer_to_planner"],
    ]
    plan_call = next(e for e in seen.events if isinstance(e, ToolCallStarted))
    assert plan_call.name == "write_plan"
    fragments = [
        e.text for e in seen.events if isinstance(e, ToolCallArguments) and e.id == plan_call.id
    ]
    assert len(fragments) == 4 and "".join(fragments) == PLAN

    results = [e for e in seen.events if isinstance(e, ToolCallResult)]
    assert [r.message["name"] for r in results] == [
        "write_plan",
        "transfer_to_image_video_creator",
        "draw",
    ]
    assert results[0].message["content"].startswith(HIDE_MARKER)
    assert "Successfully transferred to image_video_creator" in results[1].message["content"]
    assert "image_id: pic1.png" in results[2].message["content"]
    assert draw.calls[0][0].prompt == "jazz"
    assert draw.calls[0][1].session_id == "s1" and draw.calls[0][1].canvas_id == "c1"

    stored = [e.message for e in seen.events if isinstance(e, MessageCompleted)]
    assert [(m["role"], m.get("name")) for m in stored] == [
        ("assistant", "planner"),
        ("tool", "write_plan"),
        ("assistant", "planner"),
        ("tool", "transfer_to_image_video_creator"),
        ("assistant", "image_video_creator"),
        ("tool", "draw"),
        ("assistant", "image_video_creator"),
    ]
    last = [e for e in seen.events if isinstance(e, AllMessages)][-1]
    assert last.messages[1:] == stored
    # The creator's first request carries the planner's work and the handoff result.
    assert (
        tool_messages(llm.requests[2].body)[-1]["tool_call_id"] == stored[2]["tool_calls"][0]["id"]
    )


async def test_event_order_of_a_tool_step(llm: FakeOpenAIChat, factory: ModelFactory) -> None:
    llm.script(tool("write_plan", PLAN, fragments=2), "ok")
    runner, seen = make_runner(factory, llm.base_url, [user("plan it")])
    await runner.run()
    assert seen.types() == [
        "tool_call",
        "tool_call_arguments",
        "tool_call_arguments",
        "stored",
        "all_messages",
        "tool_call_result",
        "stored",
        "all_messages",
        "delta",
        "stored",
        "all_messages",
    ]


async def test_two_tool_calls_in_one_message_run_concurrently(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    draw = DrawTool()
    draw.release = asyncio.Event()
    llm.script(
        Reply(
            tool_calls=[
                ToolCallScript("draw", args({"prompt": "one"})),
                ToolCallScript("draw", args({"prompt": "two"})),
            ]
        ),
        "Both done.",
    )
    runner, seen = make_runner(
        factory,
        llm.base_url,
        [user("two pics")],
        tools=[draw],
        active="image_video_creator",
    )
    task = asyncio.create_task(runner.run())
    async with asyncio.timeout(5):
        while len(draw.calls) < 2:  # both calls start before either finishes
            await draw.started.wait()
            draw.started.clear()
    draw.release.set()
    await task

    assert sorted(a.prompt for a, _ in draw.calls) == ["one", "two"]
    started = [e for e in seen.events if isinstance(e, ToolCallStarted)]
    assert len(started) == 2 and started[0].id != started[1].id
    second_request = llm.requests[1].body
    assert {m["tool_call_id"] for m in tool_messages(second_request)} == {s.id for s in started}


async def test_unknown_tool_and_bad_arguments_become_tool_errors(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    llm.script(
        tool("paint_the_moon", args({"x": 1})),
        tool("write_plan", args({"steps": 5})),
        tool("write_plan", "{not json"),
        "Sorry, recovered.",
    )
    runner, seen = make_runner(factory, llm.base_url, [user("hi")])
    await runner.run()

    results = [e.message["content"] for e in seen.events if isinstance(e, ToolCallResult)]
    assert "no tool named 'paint_the_moon'" in results[0]
    assert "write_plan" in results[0]  # the model learns what exists
    assert "steps" in results[1] and results[1].startswith("Error: invalid arguments")
    assert "not valid JSON" in results[2]
    # The model saw each error and answered in the end.
    assert tool_messages(llm.requests[1].body)[-1]["content"] == results[0]
    assert seen.events[-2].message["content"] == "Sorry, recovered."


async def test_resumes_with_the_agent_that_spoke_last(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    from muralist.agents.history import last_agent

    history = [
        user("poster"),
        {"role": "assistant", "content": "Here it is", "name": "image_video_creator"},
        user("make it blue"),
    ]
    active = last_agent(history, ("planner", "image_video_creator"), "planner")
    llm.script("Blue it is.")
    runner, seen = make_runner(factory, llm.base_url, history, tools=[DrawTool()], active=active)
    await runner.run()
    assert sent_tools(llm.requests[0].body) == ["draw", "transfer_to_planner"]
    assert seen.events[-2].message["name"] == "image_video_creator"


async def test_step_budget_ends_the_turn(llm: FakeOpenAIChat, factory: ModelFactory) -> None:
    llm.default = tool("write_plan", PLAN)
    runner, seen = make_runner(
        factory, llm.base_url, [user("loop")], budget=TurnBudget(max_steps=3)
    )
    with pytest.raises(TurnFailed, match="budget of 3 model calls"):
        await runner.run()
    assert len(llm.requests) == 3


async def test_token_budget_ends_the_turn(llm: FakeOpenAIChat, factory: ModelFactory) -> None:
    llm.default = Reply(tool_calls=[ToolCallScript("write_plan", PLAN)], usage=(600, 100))
    runner, seen = make_runner(
        factory, llm.base_url, [user("loop")], budget=TurnBudget(max_tokens=1000)
    )
    with pytest.raises(TurnFailed, match="1400 tokens, over its budget of 1000"):
        await runner.run()
    assert len(llm.requests) == 2


@pytest.mark.parametrize("answer", [True, False])
async def test_confirmation_flagged_tool_waits_for_the_user(
    llm: FakeOpenAIChat, factory: ModelFactory, answer: bool
) -> None:
    video = DrawTool("make_video", needs_confirmation=True)
    decided = asyncio.get_running_loop().create_future()

    async def confirm(tool_call_id: str) -> bool:
        decided.set_result(tool_call_id)
        return answer

    llm.script(tool("make_video", args({"prompt": "waves"}), id="call_v1"), "ok")
    runner, seen = make_runner(
        factory,
        llm.base_url,
        [user("video")],
        tools=[video],
        active="image_video_creator",
        confirm=confirm,
    )
    await runner.run()

    assert await decided == "call_v1"
    assert not any(isinstance(e, ToolCallStarted | ToolCallArguments) for e in seen.events)
    pending = next(e for e in seen.events if isinstance(e, ToolCallPending))
    assert (pending.id, pending.name, pending.arguments) == (
        "call_v1",
        "make_video",
        '{"prompt": "waves"}',
    )
    result = next(e for e in seen.events if isinstance(e, ToolCallResult))
    if answer:
        assert len(video.calls) == 1 and "image_id" in result.message["content"]
    else:
        assert video.calls == [] and result.message["content"] == CANCELLED_TEXT


async def test_cancel_while_streaming_keeps_partial_text(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    llm.script(Reply(chunks=["Once ", "upon ", "a ", "time"] * 50, delay=0.05))
    runner, seen = make_runner(factory, llm.base_url, [user("story")])
    task = asyncio.create_task(runner.run())
    await seen.wait_for(TextDelta)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = runner.interrupted_messages()
    assert len(kept) == 1 and kept[0]["name"] == "planner"
    assert kept[0]["content"].startswith("Once ")
    streamed = "".join(e.text for e in seen.events if isinstance(e, TextDelta))
    assert kept[0]["content"] == streamed
    assert not any(isinstance(e, MessageCompleted) for e in seen.events)


async def test_cancel_while_a_tool_runs_answers_its_call(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    draw = DrawTool()
    draw.release = asyncio.Event()  # never set: the tool hangs
    llm.script(tool("draw", args({"prompt": "x"}), id="call_slow"))
    runner, seen = make_runner(
        factory, llm.base_url, [user("pic")], tools=[draw], active="image_video_creator"
    )
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(draw.started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = runner.interrupted_messages()
    assert kept == [
        {"role": "tool", "tool_call_id": "call_slow", "content": STOPPED_TEXT, "name": "draw"}
    ]
    assert runner.conversation[-1] == kept[0]


async def test_tool_calls_without_index_are_told_apart_by_id(
    llm: FakeOpenAIChat, factory: ModelFactory
) -> None:
    import json

    from tests.fakes.openai_chat import _chunk

    calls = [("c-a", '{"steps": [{"title": "A"}]}'), ("c-b", '{"steps": [{"title": "B"}]}')]
    pieces = [_chunk("m", {"role": "assistant", "content": ""})]
    for call_id, arguments in calls:
        opening = {"id": call_id, "type": "function", "function": {"name": "write_plan"}}
        pieces.append(_chunk("m", {"tool_calls": [opening]}))
        for part in (arguments[:10], arguments[10:]):
            pieces.append(_chunk("m", {"tool_calls": [{"function": {"arguments": part}}]}))
    pieces += [_chunk("m", {}, "tool_calls"), b"data: [DONE]\n\n"]
    llm.script(Reply(raw=pieces), "ok")
    runner, seen = make_runner(factory, llm.base_url, [user("two plans")])
    await runner.run()
    stored = next(e.message for e in seen.events if isinstance(e, MessageCompleted))
    titles = [
        json.loads(c["function"]["arguments"])["steps"][0]["title"] for c in stored["tool_calls"]
    ]
    assert [c["id"] for c in stored["tool_calls"]] == ["c-a", "c-b"] and titles == ["A", "B"]
