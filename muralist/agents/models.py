"""The model factory: a configured provider (config.toml) and a model name -> a pydantic-ai model.

URL and key always come from the provider's config entry, never from a chat request. Optional
per-provider fields beyond the contract: `timeout` (seconds without a byte before giving up,
default 300), `retries` (connection attempts repeated before the first token, default 2) and
`api` ("anthropic" or "openai", when the provider's name and URL do not tell).
"""

from __future__ import annotations

import logging
from typing import Any

from anthropic import AsyncAnthropic
from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.settings import ModelSettings

from muralist.agents.http import LLMClients
from muralist.agents.openai_model import OpenAICompatModel, ProviderEndpoint

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_RETRIES = 2
GEMINI_OPENAI_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"


class ModelConfigError(ValueError):
    """The provider or model named by a request cannot be used; the text says what to configure."""


def provider_kind(name: str, config: dict[str, Any]) -> str:
    """`anthropic`, `gemini`, `ollama` or `openai` (every OpenAI-compatible endpoint).

    An optional `api = "anthropic"` (or `"openai"`) in the provider's entry overrides the guess,
    for a custom provider that proxies Anthropic's messages API.
    """
    url = str(config.get("url") or "")
    declared = str(config.get("api") or "").lower()
    if declared in ("anthropic", "openai"):
        return declared
    if name == "anthropic" or "anthropic.com" in url:
        return "anthropic"
    if name in ("gemini", "google") or "generativelanguage.googleapis.com" in url:
        return "gemini"
    if name == "ollama":
        return "ollama"
    return "openai"


def endpoint_for(name: str, config: dict[str, Any]) -> ProviderEndpoint:
    """Where the provider lives, with its key, max_tokens, timeout and retries from config."""
    kind = provider_kind(name, config)
    url = str(config.get("url") or "").strip()
    key = str(config.get("api_key") or "").strip()
    if kind == "gemini" and not url:
        url = GEMINI_OPENAI_URL
    if not url:
        raise ModelConfigError(f"provider '{name}' has no url in config.toml")
    if kind == "ollama" and not url.rstrip("/").endswith("/v1"):
        url = url.rstrip("/") + "/v1/"
    elif kind == "gemini" and not url.rstrip("/").endswith("/openai"):
        url = url.rstrip("/") + "/openai/"
    if not key and kind not in ("ollama",) and not _is_loopback(url):
        raise ModelConfigError(f"provider '{name}' has no api_key in config.toml")
    return ProviderEndpoint(
        name=name,
        base_url=url,
        api_key=key,
        max_tokens=_positive_int(config.get("max_tokens")),
        timeout_s=float(config.get("timeout") or DEFAULT_TIMEOUT_S),
        retries=int(config.get("retries", DEFAULT_RETRIES)),
        # OpenAI's own API refuses `max_tokens` for newer models; compatible servers want it.
        max_tokens_field="max_completion_tokens" if "api.openai.com" in url else "max_tokens",
    )


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _is_loopback(url: str) -> bool:
    return any(host in url for host in ("://127.0.0.1", "://localhost", "://[::1]"))


class ModelFactory:
    """Builds pydantic-ai models for configured providers, sharing HTTP clients between turns."""

    def __init__(self, clients: LLMClients | None = None) -> None:
        self.clients = clients or LLMClients()

    def build(
        self, name: str, config: dict[str, Any] | None, model: str, proxy: str | None = None
    ) -> Model:
        """The model `model` of provider `name`; raises ModelConfigError when unusable."""
        if config is None:
            raise ModelConfigError(f"provider '{name}' is not configured in config.toml")
        if not model:
            raise ModelConfigError(f"no model chosen for provider '{name}'")
        endpoint = endpoint_for(name, config)
        client = self.clients.get(endpoint.timeout_s, endpoint.retries, proxy)
        if provider_kind(name, config) == "anthropic":
            base = endpoint.base_url.rstrip("/")
            base = base[: -len("/v1")] if base.endswith("/v1") else base
            sdk = AsyncAnthropic(
                api_key=endpoint.api_key,
                base_url=base,
                http_client=client,
                max_retries=0,
                timeout=endpoint.timeout_s,
            )
            settings = (
                ModelSettings(max_tokens=endpoint.max_tokens) if endpoint.max_tokens else None
            )
            return AnthropicModel(
                model, provider=AnthropicProvider(anthropic_client=sdk), settings=settings
            )
        return OpenAICompatModel(model, endpoint, client)

    async def aclose(self) -> None:
        """Close the shared HTTP clients."""
        await self.clients.aclose()


def describe_error(exc: BaseException, provider: str, model: str = "") -> str:
    """A message for the user naming the provider and what went wrong."""
    who = f"{provider} ({model})" if model else provider
    if isinstance(exc, ModelHTTPError):
        detail = _body_message(exc.body)
        suffix = f": {detail}" if detail else ""
        return f"{who}: {_http_cause(exc.status_code)} (HTTP {exc.status_code}){suffix}"
    if isinstance(exc, ModelAPIError):
        cause = exc.message
        if exc.__cause__ is not None and cause.startswith(("Connection error", "Request timed")):
            cause = f"{cause} ({type(exc.__cause__).__name__})"
        return f"{who}: {cause}"
    return f"{who}: {type(exc).__name__}: {exc}"


def _body_message(body: object) -> str:
    # Providers nest the human-readable text differently: {"error": {"message"}}, {"message"}.
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner)[:300]
        return str(inner)[:300]
    return str(body or "")[:300]


def _http_cause(status: int) -> str:
    if status in (401, 403):
        return "authentication failed, check the api_key in settings"
    if status == 404:
        return "model or URL not found"
    if status == 429:
        return "rate limited or out of quota"
    if status >= 500:
        return "the provider's server failed"
    return "the request was refused"
