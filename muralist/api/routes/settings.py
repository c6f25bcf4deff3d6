"""settings.json over HTTP: proxy, prompts, knowledge bases, material folders."""

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from muralist.api.deps import ServicesDep
from muralist.api.schemas import Exists, Status
from muralist.store.user_settings import PROXY_SCHEMES

router = APIRouter(prefix="/api/settings", tags=["settings"])

_KNOWLEDGE_DEFAULTS: dict[str, Any] = {
    "id": "",
    "name": "",
    "description": "",
    "content": "",
    "cover": "",
    "is_public": False,
    "created_at": "",
    "updated_at": "",
}


class ProxyStatus(BaseModel):
    enable: bool
    configured: bool
    message: str


class ProxyBody(BaseModel):
    proxy: str


class KnowledgeList(BaseModel):
    success: bool
    data: list[dict[str, Any]]
    count: int


class AssetsDir(BaseModel):
    success: bool
    path: str
    message: str


SAVED = Status(status="success", message="Settings updated successfully")


@router.get("/exists", response_model=Exists, operation_id="settings_exists")
async def settings_exists(services: ServicesDep) -> dict:
    """Whether settings.json exists."""
    return {"exists": services.user_settings.path.exists()}


@router.get("", response_model=dict[str, Any], operation_id="get_settings")
async def get_settings(services: ServicesDep) -> dict:
    """All settings, defaults filled in."""
    return services.user_settings.data


@router.post("", response_model=Status, operation_id="update_settings")
async def update_settings(services: ServicesDep, body: dict[str, Any] = Body(...)) -> Status:
    """Merge the posted keys into the settings; unknown keys are refused."""
    await services.user_settings.update(body)
    services.models.refresh()
    return SAVED


@router.get("/proxy/status", response_model=ProxyStatus, operation_id="proxy_status")
async def proxy_status(services: ServicesDep) -> ProxyStatus:
    """How outgoing requests are proxied now."""
    proxy = services.user_settings.get("proxy")
    if proxy in ("no_proxy", ""):
        return ProxyStatus(enable=False, configured=True, message="Proxy is disabled")
    if proxy == "system":
        return ProxyStatus(enable=True, configured=True, message="Using system proxy")
    if proxy.startswith(PROXY_SCHEMES):
        return ProxyStatus(enable=True, configured=True, message="Using custom proxy")
    return ProxyStatus(enable=True, configured=False, message="Proxy configuration is invalid")


@router.get("/proxy", response_model=ProxyBody, operation_id="get_proxy")
async def get_proxy(services: ServicesDep) -> ProxyBody:
    """The proxy setting: `no_proxy`, `system` or a URL."""
    return ProxyBody(proxy=services.user_settings.get("proxy"))


@router.post("/proxy", response_model=Status, operation_id="set_proxy")
async def set_proxy(body: ProxyBody, services: ServicesDep) -> Status:
    """Change the proxy; the next outgoing request uses it (no restart)."""
    await services.user_settings.update({"proxy": body.proxy})
    return SAVED


@router.get("/knowledge/enabled", response_model=KnowledgeList, operation_id="enabled_knowledge")
async def enabled_knowledge(services: ServicesDep) -> KnowledgeList:
    """The knowledge bases the agents may read."""
    entries = [
        {**_KNOWLEDGE_DEFAULTS, **entry}
        for entry in services.user_settings.get("enabled_knowledge_data")
    ]
    return KnowledgeList(success=True, data=entries, count=len(entries))


@router.get("/my_assets_dir_path", response_model=AssetsDir, operation_id="my_assets_dir_path")
async def my_assets_dir_path(services: ServicesDep) -> AssetsDir:
    """The folder generated and uploaded files live in."""
    services.files.dir.mkdir(parents=True, exist_ok=True)
    return AssetsDir(
        success=True,
        path=str(services.files.dir.resolve()),
        message="My Assets directory path retrieved successfully",
    )
