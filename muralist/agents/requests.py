"""Validation of a chat or magic request body into a turn request (fields of contract §2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from muralist.errors import BadRequest

Message = dict[str, Any]

_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_ROLES = {"user", "assistant", "tool", "system"}
MAX_MESSAGES = 5000


@dataclass(frozen=True)
class TurnRequest:
    """One turn to run: where, on what history, with which model and tools."""

    session_id: str
    canvas_id: str | None
    messages: list[Message]
    provider: str = ""
    model: str = ""
    tool_list: list[dict[str, Any]] = field(default_factory=list)
    system_prompt: str | None = None

    @property
    def new_message(self) -> Message:
        return self.messages[-1]


def _check_id(value: Any, name: str, *, optional: bool = False) -> str | None:
    if optional and (value is None or value == ""):
        return None
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequest(f"{name}: must be 1-100 letters, digits, '_' or '-'")
    return value


def check_messages(messages: Any) -> list[Message]:
    """The conversation: OpenAI-format messages ending with the user's new one."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: must be a non-empty list of chat messages")
    if len(messages) > MAX_MESSAGES:
        raise BadRequest(f"messages: at most {MAX_MESSAGES} messages per request")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise BadRequest(f"messages.{index}.role: must be one of {sorted(_ROLES)}")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise BadRequest(f"messages.{index}.content: must be a string or a list of parts")
    if messages[-1]["role"] != "user":
        raise BadRequest("messages: the last message must be the user's new message")
    return messages


def chat_request(
    *,
    messages: Any,
    session_id: Any,
    canvas_id: Any,
    text_model: Any,
    tool_list: Any = None,
    system_prompt: Any = None,
) -> TurnRequest:
    """Check a chat body; raise BadRequest naming the first wrong field."""
    checked = check_messages(messages)
    if not isinstance(text_model, dict):
        raise BadRequest("text_model: must name a provider and a model")
    provider, model = text_model.get("provider"), text_model.get("model")
    if not isinstance(provider, str) or not provider.strip():
        raise BadRequest("text_model.provider: must be a configured provider name")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("text_model.model: must be a model name")
    tools = tool_list if tool_list is not None else []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise BadRequest("tool_list: must be a list of tools ({id, ...})")
    if system_prompt is not None and not isinstance(system_prompt, str):
        raise BadRequest("system_prompt: must be a string or null")
    return TurnRequest(
        session_id=str(_check_id(session_id, "session_id")),
        canvas_id=_check_id(canvas_id, "canvas_id", optional=True),
        messages=checked,
        provider=provider.strip(),
        model=model.strip(),
        tool_list=tools,
        system_prompt=system_prompt,
    )


def magic_request(*, messages: Any, session_id: Any, canvas_id: Any) -> TurnRequest:
    """Check a magic body (the last user message carries the canvas snapshot)."""
    return TurnRequest(
        session_id=str(_check_id(session_id, "session_id")),
        canvas_id=_check_id(canvas_id, "canvas_id", optional=True),
        messages=check_messages(messages),
    )
