"""The V1 task API: ask for an image, a video or a magic result, then poll or cancel it."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from muralist.api.deps import ServicesDep
from muralist.errors import Unavailable
from muralist.services import Services
from muralist.tasks.requests import (
    MagicCreate,
    TaskAccepted,
    TaskCreate,
    plan_generation,
    plan_magic,
)
from muralist.tasks.service import TaskService, parse_ids

router = APIRouter(prefix="/api/v1", tags=["tasks"])


class TaskResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    url: str
    file_id: str
    width: int
    height: int


class TaskInfo(BaseModel):
    task_id: str
    type: Literal["image", "video", "magic"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: int
    tool: str | None = None
    canvas_id: str | None = None
    result_url: str | None = None
    results: list[TaskResult] = []
    error: str | None = None
    created_at: str
    updated_at: str


class TaskList(BaseModel):
    tasks: list[TaskInfo]


def _tasks(services: Services) -> TaskService:
    if services.tasks is None:
        raise Unavailable("the task service is not running")
    return services.tasks


async def _accept(services: Services, plan: Any) -> dict[str, str]:
    return {"task_id": await _tasks(services).create(plan), "status": "queued"}


@router.post(
    "/image", status_code=202, response_model=TaskAccepted, operation_id="create_image_task"
)
async def create_image(body: TaskCreate, services: ServicesDep) -> dict[str, str]:
    """Queue an image generation; poll /api/v1/video/status/{task_id} or the task room."""
    return await _accept(services, plan_generation(services.tools, services.files, body, "image"))


@router.post(
    "/video", status_code=202, response_model=TaskAccepted, operation_id="create_video_task"
)
async def create_video(body: TaskCreate, services: ServicesDep) -> dict[str, str]:
    """Queue a video generation."""
    return await _accept(services, plan_generation(services.tools, services.files, body, "video"))


@router.post(
    "/magic", status_code=202, response_model=TaskAccepted, operation_id="create_magic_task"
)
async def create_magic(body: MagicCreate, services: ServicesDep) -> dict[str, str]:
    """Queue a magic generation from a picture (data URL or file id)."""
    max_bytes = int(services.settings.max_upload_mb * 1024 * 1024)
    return await _accept(services, plan_magic(services.tools, services.files, body, max_bytes))


@router.get("/video/status/{task_id}", response_model=TaskInfo, operation_id="get_task_status")
async def task_status(task_id: str, services: ServicesDep) -> dict[str, Any]:
    """One task of any type: status, progress (0-100), results or error."""
    return await _tasks(services).get(task_id)


@router.get("/task/search", response_model=TaskList, operation_id="search_tasks")
async def search_tasks(
    services: ServicesDep,
    task_id: str | None = Query(None, max_length=200),
    task_ids: str | None = Query(
        None, max_length=20_000, description="Comma-separated ids (at most 100)."
    ),
) -> dict[str, Any]:
    """Tasks in the order asked; unknown ids are left out."""
    return {"tasks": await _tasks(services).search(parse_ids(task_id, task_ids))}


@router.post("/task/{task_id}/cancel", response_model=TaskInfo, operation_id="cancel_task")
async def cancel_task(task_id: str, services: ServicesDep) -> dict[str, Any]:
    """Cancel a queued or running task (409 when it already ended)."""
    return await _tasks(services).cancel(task_id)
