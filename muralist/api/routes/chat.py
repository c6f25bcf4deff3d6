"""Chat turns, magic, cancel and tool confirmation (contract sections 2.2 and 2.8)."""

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from muralist.agents.attach import chat_service
from muralist.agents.requests import chat_request, magic_request
from muralist.api.deps import ServicesDep
from muralist.errors import NotFound

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["chat"])


class TextModel(BaseModel):
    """The model the user picked; only `provider` and `model` are used (never `url`)."""

    model_config = ConfigDict(extra="allow")

    provider: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=500)
    url: str = ""
    type: str = "text"


class ChatBody(BaseModel):
    """A chat turn: the whole conversation with the new user message last."""

    messages: list[dict[str, Any]] = Field(min_length=1)
    session_id: str
    canvas_id: str | None = ""
    text_model: TextModel
    tool_list: list[dict[str, Any]] = Field(default_factory=list)
    system_prompt: str | None = None


class MagicBody(BaseModel):
    """A magic turn: the last user message carries the canvas snapshot as an image part."""

    messages: list[dict[str, Any]] = Field(min_length=1)
    session_id: str
    canvas_id: str | None = ""
    system_prompt: str | None = None


class Status(BaseModel):
    """`started`, `cancelled`, `not_found_or_done` or `success`."""

    status: str


class ToolConfirmation(BaseModel):
    session_id: str
    tool_call_id: str
    confirmed: bool


@router.post("/chat", response_model=Status, operation_id="chat")
async def chat(body: ChatBody, services: ServicesDep) -> Status:
    """Start a chat turn; it streams over Socket.IO and ends with `done`."""
    request = chat_request(
        messages=body.messages,
        session_id=body.session_id,
        canvas_id=body.canvas_id,
        text_model=body.text_model.model_dump(),
        tool_list=body.tool_list,
        system_prompt=body.system_prompt,
    )
    await (await chat_service(services)).start_chat(request)
    return Status(status="started")


@router.post("/cancel/{session_id}", response_model=Status, operation_id="cancel_chat")
async def cancel(session_id: str, services: ServicesDep) -> Status:
    """Stop the session's running turn."""
    stopped = await (await chat_service(services)).cancel(session_id)
    return Status(status="cancelled" if stopped else "not_found_or_done")


@router.post("/magic", response_model=Status, operation_id="magic")
async def magic(body: MagicBody, services: ServicesDep) -> Status:
    """Start a magic turn on a canvas snapshot; it ends with an assistant reply and `done`."""
    request = magic_request(
        messages=body.messages, session_id=body.session_id, canvas_id=body.canvas_id
    )
    await (await chat_service(services)).start_magic(request)
    return Status(status="started")


@router.post("/magic/cancel/{session_id}", response_model=Status, operation_id="cancel_magic")
async def cancel_magic(session_id: str, services: ServicesDep) -> Status:
    """Stop the session's running magic turn (same registry as chat turns)."""
    return await cancel(session_id, services)


@router.post("/tool_confirmation", response_model=Status, operation_id="tool_confirmation")
async def tool_confirmation(body: ToolConfirmation, services: ServicesDep) -> Status:
    """Confirm or cancel a tool call that waits for the user."""
    service = await chat_service(services)
    if not await service.confirm_tool(body.session_id, body.tool_call_id, body.confirmed):
        raise NotFound("tool_call_id: tool call not found or already processed")
    return Status(status="success")
