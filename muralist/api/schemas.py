"""Response and request shapes shared by several routes (fields as the Jaaz UI reads them)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ModelInfo(BaseModel):
    provider: str
    model: str
    url: str
    type: Literal["text", "image", "tool", "video"] = "text"


class ToolInfo(BaseModel):
    id: str
    provider: str
    type: Literal["image", "video"]
    display_name: str


class SessionInfo(BaseModel):
    id: str
    title: str | None
    model: str | None
    provider: str | None
    created_at: str
    updated_at: str


class Status(BaseModel):
    status: str
    message: str = ""


class IdOnly(BaseModel):
    id: str


class Exists(BaseModel):
    exists: bool


class Message(BaseModel):
    """An OpenAI-format chat message, stored and returned as-is."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: Any = None
