"""Models, tools and chat history."""

from fastapi import APIRouter, Response

from muralist.api.deps import ServicesDep
from muralist.api.schemas import Message, ModelInfo, SessionInfo, ToolInfo

router = APIRouter(prefix="/api", tags=["root"])


@router.get("/list_models", response_model=list[ModelInfo], operation_id="list_models")
async def list_models(services: ServicesDep) -> list[dict]:
    """Text models of every provider with a URL and key, plus discovered Ollama models."""
    models = []
    for name, entry in services.config.providers.items():
        if name == "ollama":
            continue
        url = str(entry.get("url", "")).strip()
        if not url or not str(entry.get("api_key", "")).strip():
            continue
        for model, info in entry.get("models", {}).items():
            if info.get("type", "text") == "text" and not info.get("is_disabled"):
                models.append({"provider": name, "model": model, "url": url, "type": "text"})
    return models + services.models.ollama_models()


@router.get("/list_tools", response_model=list[ToolInfo], operation_id="list_tools")
async def list_tools(services: ServicesDep) -> list[dict]:
    """Tools enabled by the configured providers, in registration order."""
    return services.tools.infos()


@router.get(
    "/list_chat_sessions",
    response_class=Response,
    responses={200: {"model": list[SessionInfo], "content": {"application/json": {}}}},
    operation_id="list_chat_sessions",
)
async def list_chat_sessions(services: ServicesDep) -> Response:
    """Every chat session, most recently updated first."""
    body = await services.store.sessions.list_all_json()
    return Response(body, media_type="application/json")


@router.get(
    "/chat_session/{session_id}", response_model=list[Message], operation_id="get_chat_session"
)
async def chat_session(session_id: str, services: ServicesDep) -> list[dict]:
    """The stored messages of a session in order ([] for an unknown session)."""
    return await services.store.messages.list(session_id)
