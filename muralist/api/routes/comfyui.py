"""ComfyUI settings: saved workflows, and the status and model-list helpers.

The helpers only ever reach the ComfyUI URL saved in config.toml, so they cannot be
used to fetch other hosts.
"""

import logging
import re
from typing import Any, Literal

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field

from muralist.api.deps import ServicesDep
from muralist.errors import BadRequest, Forbidden, Unavailable, UpstreamError
from muralist.services import Services
from muralist.tools.comfyui.workflow import WorkflowError, parse_workflow

log = logging.getLogger(__name__)

router = APIRouter(tags=["comfyui"])

_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./-]{0,200}$")


class WorkflowInput(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    type: Literal["string", "number", "boolean", "bool"] = "string"
    description: str = ""
    node_id: str = Field(min_length=1)
    node_input_name: str = Field(min_length=1)
    default_value: Any = None
    required: bool = False


class WorkflowCreate(BaseModel):
    name: str = Field(max_length=100)
    api_json: dict[str, Any]
    description: str = Field(max_length=5000)
    inputs: list[WorkflowInput]
    outputs: Any = None


class WorkflowRow(BaseModel):
    id: int
    name: str
    description: str | None
    api_json: str | None
    inputs: str | None
    outputs: str | None


class Success(BaseModel):
    success: bool


class ProxyRequest(BaseModel):
    url: str = ""
    path: str = ""


class ObjectInfoRequest(BaseModel):
    url: str = ""


def _validate_workflow(body: WorkflowCreate) -> str:
    name = body.name.strip().replace(" ", "_")
    if not name:
        raise BadRequest("name: Name is required")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise BadRequest("name: use only letters, digits and _")
    if not body.api_json:
        raise BadRequest("api_json: API JSON is required")
    if not body.description.strip():
        raise BadRequest("description: Description is required")
    if not body.inputs:
        raise BadRequest("inputs: Inputs are required")
    for index, item in enumerate(body.inputs):
        node = body.api_json.get(item.node_id)
        if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
            raise BadRequest(f"inputs.{index}.node_id: node {item.node_id!r} is not in api_json")
    # Store only what can become a tool, so a saved workflow never silently goes missing.
    try:
        parse_workflow({**body.model_dump(), "name": name})
    except WorkflowError as exc:
        raise BadRequest(str(exc)) from exc
    return name


@router.post(
    "/api/settings/comfyui/create_workflow",
    response_model=Success,
    operation_id="create_workflow",
)
async def create_workflow(body: WorkflowCreate, services: ServicesDep) -> Success:
    """Save a ComfyUI workflow; it becomes a tool while a ComfyUI URL is configured."""
    name = _validate_workflow(body)
    inputs = [item.model_dump() for item in body.inputs]
    await services.store.workflows.create(
        name, body.api_json, body.description.strip(), inputs, body.outputs
    )
    await services.tools.rebuild()
    log.info("saved ComfyUI workflow %s", name)
    return Success(success=True)


@router.get(
    "/api/settings/comfyui/list_workflows",
    response_model=list[WorkflowRow],
    operation_id="list_workflows",
)
async def list_workflows(services: ServicesDep) -> list[dict]:
    """Saved workflows, newest first; api_json, inputs and outputs are JSON text."""
    return await services.store.workflows.list()


@router.delete(
    "/api/settings/comfyui/delete_workflow/{workflow_id}", operation_id="delete_workflow"
)
async def delete_workflow(workflow_id: int, services: ServicesDep) -> None:
    """Delete a workflow (nothing happens for an unknown id)."""
    await services.store.workflows.delete(workflow_id)
    await services.tools.rebuild()


def _configured_base(services: Services, url: str) -> str:
    if not url.strip():
        raise BadRequest("url: URL is required")
    configured = str((services.config.get("comfyui") or {}).get("url", "")).strip().rstrip("/")
    if not configured or url.strip().rstrip("/") != configured:
        raise Forbidden(
            f"url: only the configured ComfyUI URL ({configured or 'none'}) can be reached;"
            " save the URL in the ComfyUI settings first"
        )
    return configured


async def _get_json(services: Services, url: str, timeout: float) -> Any:
    try:
        async with services.http.client(timeout=timeout) as client:
            response = await client.get(url)
    except httpx.InvalidURL as exc:
        # Saved before URLs were checked, or config.toml edited by hand.
        raise BadRequest(
            f"url: the configured ComfyUI URL {url!r} is not a valid URL ({exc});"
            " correct it in the ComfyUI settings"
        ) from exc
    except httpx.TransportError as exc:
        raise Unavailable(
            "ComfyUI server is not available. Please make sure ComfyUI is running."
            f" ({url}: {exc.__class__.__name__})"
        ) from exc
    if response.status_code != 200:
        raise UpstreamError(f"ComfyUI at {url} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamError(f"ComfyUI at {url} did not answer JSON") from exc


@router.post("/api/settings/comfyui/proxy", response_model=Any, operation_id="comfyui_proxy")
async def comfyui_proxy(body: ProxyRequest, services: ServicesDep) -> Any:
    """GET a path of the configured ComfyUI and return its JSON (the status check)."""
    base = _configured_base(services, body.url)
    if not _SAFE_PATH.fullmatch(body.path) or ".." in body.path:
        raise BadRequest("path: must be an absolute path such as /system_stats")
    return await _get_json(services, base + body.path, timeout=5.0)


@router.post("/api/comfyui/object_info", response_model=Any, operation_id="comfyui_object_info")
async def comfyui_object_info(body: ObjectInfoRequest, services: ServicesDep) -> Any:
    """The configured ComfyUI's node catalogue (used to show its checkpoints)."""
    base = _configured_base(services, body.url)
    return await _get_json(services, base + "/object_info", timeout=10.0)
