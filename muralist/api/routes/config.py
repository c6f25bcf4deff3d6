"""config.toml over HTTP: keys go out masked, and a masked key posted back is kept."""

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from muralist.api.deps import ServicesDep
from muralist.api.errors import ErrorResponse
from muralist.api.schemas import Exists, Status
from muralist.errors import MuralistError

router = APIRouter(prefix="/api/config", tags=["config"])


class ConfigRefused(BaseModel):
    """A refused config: the route's own answer has all three fields, a body that is not
    even JSON gets FastAPI's plain {"detail"}."""

    detail: str
    status: str = "error"
    message: str = ""


@router.get("/exists", response_model=Exists, operation_id="config_exists")
async def config_exists(services: ServicesDep) -> dict:
    """Whether config.toml exists."""
    return {"exists": services.config.path.exists()}


@router.get("", response_model=dict[str, dict[str, Any]], operation_id="get_config")
async def get_config(services: ServicesDep) -> dict:
    """Every provider, API keys masked."""
    return services.config.masked()


@router.post(
    "",
    response_model=Status,
    responses={400: {"model": ConfigRefused}},
    operation_id="update_config",
)
async def update_config(
    services: ServicesDep, body: dict[str, Any] = Body(...)
) -> Status | JSONResponse:
    """Replace the posted providers (`null` removes one; missing ones are kept)."""
    try:
        await services.config.update(body)
    except MuralistError as exc:
        # The message may quote a provider name the client sent: render it ASCII-safe.
        return ErrorResponse(
            {"status": "error", "message": exc.message, "detail": exc.message}, exc.status
        )
    await services.tools.rebuild()
    services.models.refresh()
    return Status(status="success", message="Configuration updated successfully")
