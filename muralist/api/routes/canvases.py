"""Canvases: list, create (which starts the first chat turn), read, save, rename, delete."""

import logging
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from muralist.agents.attach import chat_service
from muralist.agents.requests import chat_request
from muralist.api.deps import ServicesDep
from muralist.api.schemas import IdOnly, SessionInfo
from muralist.errors import NotFound
from muralist.nesting import check_nesting

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/canvas", tags=["canvas"])

ID_PATTERN = r"^[A-Za-z0-9_-]{1,100}$"
# Excalidraw scenes nest a handful of levels (scene, elements, element, points, point);
# 64 is generous and far below the serialiser's limit of about 255.
MAX_SCENE_NESTING = 64


class CanvasSummary(BaseModel):
    id: str
    name: str
    description: str | None
    thumbnail: str | None
    created_at: str
    updated_at: str


class CanvasCreate(BaseModel):
    """The home page's prompt box: a new canvas and the first chat turn on it."""

    name: str = Field(min_length=1, max_length=500)
    canvas_id: str = Field(pattern=ID_PATTERN)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    session_id: str = ""
    text_model: dict[str, Any] | None = None
    tool_list: list[dict[str, Any]] = Field(default_factory=list)
    system_prompt: str | None = None


class CanvasDetail(BaseModel):
    data: dict[str, Any]
    name: str
    sessions: list[SessionInfo]


class CanvasSave(BaseModel):
    data: dict[str, Any]
    thumbnail: str | None = None


class CanvasRename(BaseModel):
    name: str = Field(min_length=1, max_length=500)


@router.get("/list", response_model=list[CanvasSummary], operation_id="list_canvases")
async def list_canvases(services: ServicesDep) -> list[dict]:
    """Every canvas, most recently updated first."""
    return await services.store.canvases.list()


@router.post("/create", response_model=IdOnly, operation_id="create_canvas")
async def create_canvas(body: CanvasCreate, services: ServicesDep) -> IdOnly:
    """Create the canvas, then start the chat turn its first message asks for."""
    turn = None
    if body.messages:
        # Checked before the row is written, so a bad body leaves no canvas behind.
        turn = chat_request(
            messages=body.messages,
            session_id=body.session_id,
            canvas_id=body.canvas_id,
            text_model=body.text_model,
            tool_list=body.tool_list,
            system_prompt=body.system_prompt,
        )
    await services.store.canvases.create(body.canvas_id, body.name)
    log.info("created canvas %s", body.canvas_id)
    if turn is not None:
        await (await chat_service(services)).start_chat(turn)
    return IdOnly(id=body.canvas_id)


@router.get(
    "/{canvas_id}",
    response_class=Response,
    responses={
        200: {"model": CanvasDetail, "content": {"application/json": {}}},
        404: {"description": "Unknown canvas"},
    },
    operation_id="get_canvas",
)
async def get_canvas(canvas_id: str, services: ServicesDep) -> Response:
    """The scene, the name and the sessions of a canvas."""
    canvas = await services.store.canvases.get(canvas_id)
    if canvas is None:
        raise NotFound(f"canvas_id: canvas {canvas_id!r} not found")
    sessions = await services.store.sessions.list_for_canvas_json(canvas_id)
    # Assembled from JSON parts: validating 1,000 sessions against CanvasDetail took longer
    # than reading them (bench/api.py), and the store writes that shape already. NaN, which a
    # saved scene may hold, goes out as null, as the model's serialiser did.
    body = b"".join(
        (
            b'{"name":',
            to_json(canvas["name"]),
            b',"data":',
            to_json(canvas["data"], inf_nan_mode="null"),
            b',"sessions":',
            sessions,
            b"}",
        )
    )
    return Response(body, media_type="application/json")


@router.post("/{canvas_id}/save", response_model=IdOnly, operation_id="save_canvas")
async def save_canvas(canvas_id: str, body: CanvasSave, services: ServicesDep) -> IdOnly:
    """Overwrite the scene (and the thumbnail when given)."""
    # Checked before storing: a scene too deep to serialise would be saved, then fail
    # every read of the canvas.
    check_nesting(body.data, "data", MAX_SCENE_NESTING)
    if not await services.store.canvases.save(canvas_id, body.data, body.thumbnail):
        raise NotFound(f"canvas_id: canvas {canvas_id!r} not found")
    return IdOnly(id=canvas_id)


@router.post("/{canvas_id}/rename", response_model=IdOnly, operation_id="rename_canvas")
async def rename_canvas(canvas_id: str, body: CanvasRename, services: ServicesDep) -> IdOnly:
    """Rename a canvas."""
    if not await services.store.canvases.rename(canvas_id, body.name):
        raise NotFound(f"canvas_id: canvas {canvas_id!r} not found")
    return IdOnly(id=canvas_id)


@router.delete("/{canvas_id}/delete", response_model=IdOnly, operation_id="delete_canvas")
async def delete_canvas(canvas_id: str, services: ServicesDep) -> IdOnly:
    """Delete a canvas with its sessions and messages (files stay in the file store)."""
    if not await services.store.canvases.delete(canvas_id):
        raise NotFound(f"canvas_id: canvas {canvas_id!r} not found")
    log.info("deleted canvas %s", canvas_id)
    return IdOnly(id=canvas_id)
