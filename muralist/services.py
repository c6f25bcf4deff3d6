"""The services one server process runs, built once at start-up and shared by the routes."""

import logging
from dataclasses import dataclass, field
from typing import Any

import socketio

from muralist.events import EventHub
from muralist.events.log import RedisEventLog
from muralist.events.socket import register_handlers
from muralist.media.files import FileStore
from muralist.providers.config import ProviderConfig
from muralist.providers.discovery import ModelDiscovery
from muralist.providers.http import HttpClientFactory
from muralist.settings import ServerSettings
from muralist.store import Store
from muralist.store.user_settings import UserSettings
from muralist.tools.registry import ToolRegistry

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a route or worker needs; the chat and task services attach themselves."""

    settings: ServerSettings
    store: Store
    config: ProviderConfig
    user_settings: UserSettings
    events: EventHub
    http: HttpClientFactory
    files: FileStore
    tools: ToolRegistry
    models: ModelDiscovery
    chat: Any = None
    tasks: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    def provider_entry(self, name: str) -> dict[str, Any] | None:
        """A provider's config.toml entry, as chat uses it.

        Ollama needs no entry of its own: its URL falls back to MURALIST_OLLAMA_URL, the same
        address `GET /api/list_models` lists Ollama's models from.
        """
        entry = self.config.get(name)
        if name != "ollama":
            return entry
        merged = dict(entry or {})
        merged["url"] = str(merged.get("url") or "").strip() or self.settings.ollama_url
        return merged

    async def close(self) -> None:
        await self.models.close()
        await self.events.close()
        await self.store.close()


async def build_services(settings: ServerSettings, sio: socketio.AsyncServer) -> Services:
    """Open the data directory, the database and the config files."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.db_url)

    config = ProviderConfig(settings.config_path, settings.jaaz_base_url)
    config.load()
    user_settings = UserSettings(settings.settings_path)
    user_settings.load()

    http = HttpClientFactory(lambda: user_settings.get("proxy"))
    event_log = (
        RedisEventLog(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
    )
    events = EventHub(sio, event_log)
    register_handlers(sio, events)

    services = Services(
        settings=settings,
        store=store,
        config=config,
        user_settings=user_settings,
        events=events,
        http=http,
        files=FileStore(settings.files_dir),
        tools=ToolRegistry(config, store.workflows),
        # Read when models are listed, so the URL follows config.toml changes.
        models=ModelDiscovery(http, lambda: str((services.provider_entry("ollama") or {})["url"])),
    )
    await services.tools.rebuild()
    return services
