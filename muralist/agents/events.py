"""The typed events of a chat turn; each maps onto one `session_update` type of contract §3.3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """Base: `type` is the wire name; `fields()` the payload beside the envelope."""

    type: ClassVar[str] = ""

    def fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class TextDelta(TurnEvent):
    """A piece of the assistant's text."""

    type: ClassVar[str] = "delta"
    text: str

    def fields(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class ToolCallStarted(TurnEvent):
    """The model began a tool call; the UI gets the literal `{}` as arguments (contract §3.3)."""

    type: ClassVar[str] = "tool_call"
    id: str
    name: str

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": "{}"}


@dataclass(frozen=True, slots=True)
class ToolCallArguments(TurnEvent):
    """A fragment of a tool call's JSON arguments."""

    type: ClassVar[str] = "tool_call_arguments"
    id: str
    text: str

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text}


@dataclass(frozen=True, slots=True)
class ToolCallPending(TurnEvent):
    """A tool that needs the user's confirmation is waiting for it."""

    type: ClassVar[str] = "tool_call_pending_confirmation"
    id: str
    name: str
    arguments: str

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True, slots=True)
class ToolCallResult(TurnEvent):
    """A tool finished (or failed); `message` is the OpenAI `tool` message."""

    type: ClassVar[str] = "tool_call_result"
    id: str
    message: Message

    def fields(self) -> dict[str, Any]:
        return {"id": self.id, "message": self.message}


@dataclass(frozen=True, slots=True)
class MessageCompleted(TurnEvent):
    """A message is complete and must be stored (never sent as such)."""

    type: ClassVar[str] = ""
    message: Message


@dataclass(frozen=True, slots=True)
class AllMessages(TurnEvent):
    """The whole conversation so far, in OpenAI format."""

    type: ClassVar[str] = "all_messages"
    messages: list[Message]

    def fields(self) -> dict[str, Any]:
        return {"messages": self.messages}
