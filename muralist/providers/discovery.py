"""Model discovery: Ollama's local models, fetched in the background and cached."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from muralist.errors import MuralistError
from muralist.providers.http import HttpClientFactory

log = logging.getLogger(__name__)

FRESH_SECONDS = 30.0
FETCH_TIMEOUT = httpx.Timeout(3.0, connect=1.0)


class ModelDiscovery:
    """Answers from its cache at once; a stale cache starts one refresh in the background."""

    def __init__(self, http: HttpClientFactory, ollama_url: Callable[[], str]) -> None:
        self._http = http
        self._ollama_url = ollama_url
        self._models: list[dict[str, Any]] = []
        self._fetched_at = float("-inf")
        self._refresh: asyncio.Task[None] | None = None

    def ollama_models(self) -> list[dict[str, Any]]:
        """The cached Ollama models as ModelInfo entries (may be empty while fetching)."""
        if time.monotonic() - self._fetched_at > FRESH_SECONDS:
            self.refresh()
        return list(self._models)

    def refresh(self) -> asyncio.Task[None]:
        """Start a refresh unless one is running; returns the task to await if you must."""
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._fetch())
        return self._refresh

    async def _fetch(self) -> None:
        url = self._ollama_url().strip().rstrip("/")
        models: list[dict[str, Any]] = []
        if url:
            try:
                async with self._http.client(timeout=FETCH_TIMEOUT) as client:
                    response = await client.get(f"{url}/api/tags")
                    response.raise_for_status()
                    entries = response.json().get("models", [])
                models = [
                    {"provider": "ollama", "model": entry["name"], "url": url, "type": "text"}
                    for entry in entries
                    if isinstance(entry, dict) and isinstance(entry.get("name"), str)
                ]
            except (
                httpx.HTTPError,
                httpx.InvalidURL,
                MuralistError,
                ValueError,
                AttributeError,
            ) as exc:
                # A background task: an error left unhandled here is only ever logged as
                # "Task exception was never retrieved", and the cache would never refresh.
                log.debug("no Ollama models from %s: %s", url, exc)
        self._models = models
        self._fetched_at = time.monotonic()

    async def close(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
