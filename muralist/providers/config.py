"""config.toml: the providers, their URLs, keys and models, kept with the user's comments."""

import asyncio
import copy
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from muralist.errors import BadRequest
from muralist.nesting import check_nesting
from muralist.providers.http import check_service_url

log = logging.getLogger(__name__)

MASK_CHAR = "•"


class ModelEntry(BaseModel):
    """A model listed under a provider."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "image", "video"] = "text"
    is_custom: bool | None = None
    is_disabled: bool | None = None


class ProviderEntry(BaseModel):
    """One provider table of config.toml."""

    model_config = ConfigDict(extra="allow")

    url: str = ""
    api_key: str = ""
    max_tokens: int | None = Field(None, gt=0, le=10_000_000)
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    is_custom: bool | None = None


def _text_models(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {"type": "text"} for name in names}


def default_providers(jaaz_base_url: str) -> dict[str, dict[str, Any]]:
    """The providers a new config.toml starts with."""
    return {
        "jaaz": {
            "url": jaaz_api_url(jaaz_base_url),
            "api_key": "",
            "max_tokens": 8192,
            "models": _text_models(
                "gpt-4o",
                "gpt-4o-mini",
                "deepseek/deepseek-chat-v3-0324",
                "anthropic/claude-sonnet-4",
                "anthropic/claude-3.7-sonnet",
            ),
        },
        "comfyui": {"url": "http://127.0.0.1:8188", "api_key": "", "models": {}},
        "ollama": {
            "url": "http://localhost:11434",
            "api_key": "",
            "max_tokens": 8192,
            "models": {},
        },
        "openai": {
            "url": "https://api.openai.com/v1/",
            "api_key": "",
            "max_tokens": 8192,
            "models": _text_models("gpt-4o", "gpt-4o-mini"),
        },
    }


def jaaz_api_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v1/"


def mask_key(key: str) -> str:
    """A display form of a secret that cannot be mistaken for a real key."""
    if not key:
        return ""
    if len(key) < 12:
        return MASK_CHAR * 8
    return key[:3] + MASK_CHAR * 8 + key[-4:]


def _validate(body: Any, *, check_urls: bool = True) -> dict[str, dict[str, Any] | None]:
    if not isinstance(body, dict):
        raise BadRequest("body: must be an object of providers")
    checked: dict[str, dict[str, Any] | None] = {}
    for name, entry in body.items():
        if not name or not isinstance(name, str):
            raise BadRequest("provider names must be non-empty strings")
        if entry is None:
            checked[name] = None
            continue
        # Before pydantic and TOML see it: both fail on deep values in ways that are hard to
        # report (recursion errors, a file the next start cannot parse).
        check_nesting(entry, name)
        try:
            model = ProviderEntry.model_validate(entry)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in (name, *first["loc"]))
            raise BadRequest(f"{where}: {first['msg']}") from exc
        checked[name] = model.model_dump(exclude_none=True)
        _check_storable(checked[name], name)
        if check_urls:
            check_service_url(model.url, f"{name}.url")
    return checked


def _check_storable(value: Any, where: str) -> None:
    """Refuse what TOML cannot hold (null) or UTF-8 cannot encode (lone surrogates)."""
    if value is None:
        raise BadRequest(f"{where}: null cannot be stored in config.toml")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadRequest(f"{where}: text is not valid Unicode") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, where)
            _check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{where}.{index}")


def _unmasked_key(posted: str, stored: str, provider: str) -> str:
    """The key to store for a posted `api_key`: a masked value means "keep this provider's
    stored key" and nothing else, so a mask copied from another provider is never stored."""
    if MASK_CHAR not in posted:
        return posted
    if stored and posted == mask_key(stored):
        return stored
    raise BadRequest(
        f"{provider}.api_key: a masked key can only keep this provider's stored key;"
        " enter the full key"
    )


class ProviderConfig:
    """The providers of config.toml; `update` validates, keeps masked keys and writes atomically."""

    def __init__(self, path: Path, jaaz_base_url: str) -> None:
        self.path = path
        self._jaaz_url = jaaz_api_url(jaaz_base_url)
        self._defaults = default_providers(jaaz_base_url)
        self._providers: dict[str, dict[str, Any]] = {}
        self._lock = asyncio.Lock()

    def load(self) -> None:
        """Read config.toml, creating it with the defaults when missing."""
        if not self.path.exists():
            self._providers = copy.deepcopy(self._defaults)
            self._write(tomlkit.document(), self._providers)
            log.info("created %s with the default providers", self.path)
            return
        try:
            stored = tomlkit.parse(self.path.read_text(encoding="utf-8")).unwrap()
            # A hand-written URL that is not one must not stop the server: the calls that use
            # it answer with an error, and the settings page refuses it until it is fixed.
            checked = _validate(stored, check_urls=False)
        except (tomlkit.exceptions.TOMLKitError, BadRequest, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.path} is not a valid provider configuration: {exc}") from exc
        self._providers = self._merge_defaults(
            {name: entry for name, entry in checked.items() if entry is not None}
        )

    def _merge_defaults(self, stored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        merged = copy.deepcopy(self._defaults)
        for name, entry in stored.items():
            if name in merged:
                models = {**merged[name].get("models", {}), **entry.get("models", {})}
                merged[name] = {**merged[name], **entry, "models": models}
            else:
                merged[name] = {**entry, "is_custom": True}
        if "jaaz" in merged:
            merged["jaaz"]["url"] = self._jaaz_url
        return merged

    @property
    def providers(self) -> dict[str, dict[str, Any]]:
        """A copy of every provider (keys in clear; never send this to a client)."""
        return copy.deepcopy(self._providers)

    def get(self, name: str) -> dict[str, Any] | None:
        entry = self._providers.get(name)
        return copy.deepcopy(entry) if entry is not None else None

    def names(self) -> list[str]:
        return list(self._providers)

    def masked(self) -> dict[str, dict[str, Any]]:
        """Every provider with its api_key masked, as GET /api/config answers."""
        shown = self.providers
        for entry in shown.values():
            entry["api_key"] = mask_key(entry.get("api_key", ""))
        return shown

    async def update(self, body: Any) -> None:
        """Apply a posted config: a null provider is removed (a default one reset to its
        defaults); a provider missing from the body is kept as it is."""
        checked = _validate(body)
        async with self._lock:
            current = self._providers
            new = copy.deepcopy(current)
            for name, entry in checked.items():
                if entry is None:
                    new.pop(name, None)
                    continue
                entry["api_key"] = _unmasked_key(
                    entry.get("api_key", ""), current.get(name, {}).get("api_key", ""), name
                )
                if name == "jaaz":
                    entry["url"] = self._jaaz_url
                if name not in self._defaults:
                    entry.setdefault("is_custom", True)
                new[name] = entry
            # The same merge as at load time, so what is in memory is what a restart reads:
            # default providers and their default models always exist (reset, not removed).
            merged = self._merge_defaults(new)
            self._write(self._read_document(), merged)
            self._providers = merged
        log.info("provider configuration updated: %s", ", ".join(self._providers))

    def _read_document(self) -> tomlkit.TOMLDocument:
        try:
            return tomlkit.parse(self.path.read_text(encoding="utf-8"))
        except (OSError, tomlkit.exceptions.TOMLKitError):
            return tomlkit.document()

    def _write(self, document: tomlkit.TOMLDocument, providers: dict[str, dict[str, Any]]) -> None:
        """Rewrite `document` to match `providers`, keeping its comments, atomically."""
        for name in [key for key in document if key not in providers]:
            del document[name]
        for name, entry in providers.items():
            table = document.get(name)
            if not isinstance(table, dict):
                table = tomlkit.table()
                document[name] = table
            for key in [key for key in table if key not in entry]:
                del table[key]
            for key, value in entry.items():
                if table.get(key) != value:
                    table[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, tomlkit.dumps(document))


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
