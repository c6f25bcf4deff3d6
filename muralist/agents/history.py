"""Conversation history: repair, titles, and conversion between OpenAI-format dicts and pydantic-ai.

The UI, the database and `all_messages` speak OpenAI chat format (contract §1.3); the models speak
pydantic-ai's `ModelMessage`s. Everything crossing that line goes through this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic_ai.messages import (
    BinaryContent,
    ImageUrl,
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserContent,
    UserPromptPart,
)

Message = dict[str, Any]

TITLE_LIMIT = 200
# Control blocks the UI appends to the user's text; they make poor session titles.
_CONTROL_BLOCKS = re.compile(
    r"<(aspect_ratio|quantity)>.*?</\1>|<input_images\b.*?</input_images>|<input_images\b[^>]*/>",
    re.DOTALL,
)


def message_text(message: Message) -> str:
    """The text of a message, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def session_title(message: Message) -> str:
    """A session title from the first message: its text without control blocks, 200 characters."""
    text = _CONTROL_BLOCKS.sub("", message_text(message))
    return " ".join(text.split())[:TITLE_LIMIT]


def repair_history(messages: Sequence[Message]) -> list[Message]:
    """Drop what a provider would reject: tool calls that never got a result, and empty leftovers.

    An assistant tool call without a `tool` message anywhere is removed; an assistant message left
    with neither tool calls nor content is dropped; a `tool` message answering no known call is
    dropped too (providers refuse a tool result that follows no call).
    """
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    repaired: list[Message] = []
    called: set[str] = set()
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            kept = _keep_answered_calls(message, answered)
            if kept is None:
                continue
            called.update(call.get("id") for call in kept.get("tool_calls") or [])
            repaired.append(kept)
        elif role != "tool" or message.get("tool_call_id") in called:
            repaired.append(message)
    return repaired


def _keep_answered_calls(message: Message, answered: set[Any]) -> Message | None:
    calls = message.get("tool_calls")
    if calls:
        kept = [call for call in calls if call.get("id") in answered]
        if len(kept) != len(calls):
            message = {**message, "tool_calls": kept}
            if not kept:
                del message["tool_calls"]
    if not message.get("tool_calls") and not _has_content(message.get("content")):
        return None
    return message


def _has_content(content: Any) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    return bool(content)


def last_agent(messages: Sequence[Message], agent_names: Iterable[str], default: str) -> str:
    """The agent that wrote the last assistant message, when it is one of ours, else `default`."""
    names = set(agent_names)
    for message in reversed(messages):
        if message.get("role") == "assistant":
            name = message.get("name")
            return name if name in names else default
    return default


# OpenAI format -> pydantic-ai ----------------------------------------------------------------


def to_model_messages(messages: Sequence[Message]) -> list[ModelMessage]:
    """Convert OpenAI-format messages into pydantic-ai messages.

    Consecutive system, user and tool messages share one `ModelRequest`, so the result alternates
    request / response the way every provider expects.
    """
    result: list[ModelMessage] = []
    pending: list[ModelRequestPart] = []
    names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            if pending:
                result.append(ModelRequest(parts=pending))
                pending = []
            response = _assistant_to_response(message)
            names.update(
                (p.tool_call_id, p.tool_name) for p in response.parts if isinstance(p, ToolCallPart)
            )
            result.append(response)
        elif role == "tool":
            call_id = str(message.get("tool_call_id", ""))
            tool_name = message.get("name") or names.get(call_id, "tool")
            pending.append(
                ToolReturnPart(
                    tool_name=tool_name, content=message_text(message), tool_call_id=call_id
                )
            )
        elif role == "system":
            pending.append(SystemPromptPart(content=message_text(message)))
        else:
            pending.append(UserPromptPart(content=_user_content(message.get("content"))))
    if pending:
        result.append(ModelRequest(parts=pending))
    return result


def _assistant_to_response(message: Message) -> ModelResponse:
    parts: list[TextPart | ToolCallPart] = []
    text = message_text(message)
    if text:
        parts.append(TextPart(content=text))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        parts.append(
            ToolCallPart(
                tool_name=str(function.get("name", "")),
                args=function.get("arguments") or "{}",
                tool_call_id=str(call.get("id", "")),
            )
        )
    return ModelResponse(parts=parts)


def _user_content(content: Any) -> str | list[UserContent]:
    if isinstance(content, str) or content is None:
        return content or ""
    items: list[UserContent] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            items.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            url = str((part.get("image_url") or {}).get("url", ""))
            if url.startswith("data:"):
                items.append(BinaryContent.from_data_uri(url))
            elif url:
                items.append(ImageUrl(url=url))
    return items


# pydantic-ai -> OpenAI format ----------------------------------------------------------------


def response_to_message(response: ModelResponse, agent: str | None) -> Message:
    """An assistant message in OpenAI format for a model response (text parts joined)."""
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    message: Message = {"role": "assistant", "content": text}
    calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
    if calls:
        message["tool_calls"] = [tool_call_dict(call) for call in calls]
    if agent:
        message["name"] = agent
    return message


def tool_call_dict(call: ToolCallPart) -> Message:
    """An OpenAI `ToolCall` for a pydantic-ai tool call part."""
    return {
        "id": call.tool_call_id,
        "type": "function",
        "function": {"name": call.tool_name, "arguments": args_text(call.args)},
    }


def args_text(args: str | Mapping[str, Any] | None) -> str:
    """Tool-call arguments as the JSON text OpenAI format carries."""
    if args is None:
        return "{}"
    if isinstance(args, str):
        return args
    return json.dumps(args, ensure_ascii=False)


def to_openai_messages(messages: Sequence[ModelMessage]) -> list[Message]:
    """Convert pydantic-ai messages into the OpenAI chat-completions request format."""
    result: list[Message] = []
    for message in messages:
        if isinstance(message, ModelResponse):
            converted = response_to_message(message, None)
            if converted.get("tool_calls") and not converted["content"]:
                converted["content"] = None
            result.append(converted)
            continue
        if message.instructions:
            result.append({"role": "system", "content": message.instructions})
        for part in message.parts:
            converted_part = _request_part_to_message(part)
            if converted_part is not None:
                result.append(converted_part)
    return result


def _request_part_to_message(part: ModelRequestPart) -> Message | None:
    if isinstance(part, SystemPromptPart):
        return {"role": "system", "content": part.content}
    if isinstance(part, UserPromptPart):
        return {"role": "user", "content": _user_content_to_openai(part.content)}
    if isinstance(part, ToolReturnPart):
        return {
            "role": "tool",
            "tool_call_id": part.tool_call_id,
            "content": part.model_response_str(),
        }
    return None


def _user_content_to_openai(content: str | Sequence[UserContent]) -> str | list[Message]:
    if isinstance(content, str):
        return content
    parts: list[Message] = []
    for item in content:
        if isinstance(item, str):
            parts.append({"type": "text", "text": item})
        elif isinstance(item, BinaryContent) and item.is_image:
            parts.append({"type": "image_url", "image_url": {"url": item.data_uri}})
        elif isinstance(item, ImageUrl):
            parts.append({"type": "image_url", "image_url": {"url": item.url}})
    return parts
