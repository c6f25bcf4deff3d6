"""History repair, titles, last agent and the OpenAI <-> pydantic-ai conversion."""

from pydantic_ai.messages import (
    BinaryContent,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from muralist.agents.history import (
    last_agent,
    repair_history,
    response_to_message,
    session_title,
    to_model_messages,
    to_openai_messages,
)

PNG_URL = "data:image/png;base64,iVBORw0KGgo="


def call(call_id: str, name: str = "write_plan", args: str = "{}") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def test_repair_drops_unanswered_calls_and_empty_leftovers() -> None:
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "tool_calls": [call("a")]},
        {"role": "assistant", "content": "kept", "tool_calls": [call("b"), call("c")]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
        {"role": "tool", "tool_call_id": "zzz", "content": "orphan"},
        {"role": "assistant", "content": "   "},
    ]
    repaired = repair_history(history)
    assert repaired == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "kept", "tool_calls": [call("c")]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]
    assert history[2]["tool_calls"] == [call("b"), call("c")]  # the input is not mutated


def test_title_from_parts_without_control_blocks() -> None:
    message = {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": "A jazz poster\n<aspect_ratio>3:4</aspect_ratio><quantity>2</quantity>"
                '<input_images count="1"><image index="1" file_id="im_a.jpg" /></input_images>',
            },
            {"type": "image_url", "image_url": {"url": PNG_URL}},
        ],
    }
    assert session_title(message) == "A jazz poster"
    assert session_title({"role": "user", "content": "x" * 300}) == "x" * 200
    assert session_title({"role": "user", "content": None}) == ""


def test_last_agent_only_trusts_our_names() -> None:
    names = ("planner", "image_video_creator")
    history = [
        {"role": "assistant", "content": "a", "name": "image_video_creator"},
        {"role": "user", "content": "b"},
    ]
    assert last_agent(history, names, "planner") == "image_video_creator"
    assert last_agent([{"role": "assistant", "content": "a", "name": "x"}], names, "planner") == (
        "planner"
    )
    assert last_agent([], names, "planner") == "planner"


def test_openai_to_model_messages_groups_requests() -> None:
    history = [
        {"role": "system", "content": "be nice"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": PNG_URL}},
            ],
        },
        {"role": "assistant", "content": "ok", "tool_calls": [call("c1", "draw", '{"a": 1}')]},
        {"role": "tool", "tool_call_id": "c1", "content": "drawn"},
        {"role": "user", "content": "again"},
    ]
    converted = to_model_messages(history)
    assert [type(m) for m in converted] == [ModelRequest, ModelResponse, ModelRequest]
    first = converted[0]
    assert isinstance(first, ModelRequest)
    user = first.parts[1]
    assert isinstance(user, UserPromptPart)
    assert user.content[0] == "look"
    assert isinstance(user.content[1], BinaryContent)
    assert user.content[1].media_type == "image/png"
    response = converted[1]
    assert isinstance(response, ModelResponse)
    assert isinstance(response.parts[1], ToolCallPart)
    assert response.parts[1].tool_name == "draw"
    last = converted[2]
    assert isinstance(last, ModelRequest)
    assert isinstance(last.parts[0], ToolReturnPart)
    assert last.parts[0].tool_name == "draw"  # named after the call it answers


def test_round_trip_back_to_openai_format() -> None:
    history = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": PNG_URL}},
            ],
        },
        {"role": "assistant", "content": "", "tool_calls": [call("c1")]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    back = to_openai_messages(to_model_messages(history))
    assert back[0] == history[0]
    assert back[1] == {"role": "assistant", "content": None, "tool_calls": [call("c1")]}
    assert back[2] == {"role": "tool", "tool_call_id": "c1", "content": "ok"}


def test_response_to_message_carries_agent_name() -> None:
    response = ModelResponse(
        parts=[TextPart("Here "), TextPart("it is"), ToolCallPart("draw", {"p": "x"}, "c9")]
    )
    assert response_to_message(response, "image_video_creator") == {
        "role": "assistant",
        "content": "Here it is",
        "tool_calls": [call("c9", "draw", '{"p": "x"}')],
        "name": "image_video_creator",
    }
