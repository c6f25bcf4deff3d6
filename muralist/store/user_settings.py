"""settings.json: proxy, prompts, knowledge bases, magic model and material folders."""

import asyncio
import copy
import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from muralist.errors import BadRequest
from muralist.media.browse import fits_file_system
from muralist.nesting import check_nesting
from muralist.providers.config import atomic_write_text
from muralist.providers.http import check_proxy_url

log = logging.getLogger(__name__)

# The schemes the proxy status route calls a custom proxy (the contract's list); saving one
# is stricter, see check_proxy.
PROXY_SCHEMES = ("http://", "https://", "socks4://", "socks5://")

DEFAULT_SYSTEM_PROMPT = (
    "You are Muralist, a design assistant working on an infinite canvas. Answer in the "
    "language the user writes in, keep explanations short, and make the pictures and "
    "videos the user asks for with the tools you have."
)


def check_proxy(value: str) -> str:
    """Accept `no_proxy`, `system`, "" (same as no proxy) or a proxy URL httpx can use."""
    if value in ("", "no_proxy", "system"):
        return value
    if "://" not in value:
        raise ValueError("must be 'no_proxy', 'system' or a proxy URL such as http://host:port")
    try:
        check_proxy_url(value)
    except BadRequest as exc:
        raise ValueError(exc.message.removeprefix("proxy: ")) from None
    return value


def check_folder(folder: str) -> str:
    """A material folder: an absolute path the operating system can look up."""
    if "\x00" in folder:
        raise ValueError("a path may not contain NUL (\\u0000) characters")
    if not Path(folder).is_absolute():
        raise ValueError(f"{folder!r} is not an absolute path")
    # A name the OS cannot look up would fail every material route later.
    if not fits_file_system(folder):
        raise ValueError(f"{folder[:80]!r}... is longer than the file system allows")
    return folder


class UserSettingsModel(BaseModel):
    """Every key settings.json may hold; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    proxy: str = "system"
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, max_length=100_000)
    enabled_knowledge: list[str] = Field(default_factory=list)
    enabled_knowledge_data: list[dict[str, Any]] = Field(default_factory=list)
    magic_model: str = ""
    material_dirs: list[str] = Field(default_factory=list)

    _proxy = field_validator("proxy")(classmethod(lambda cls, v: check_proxy(v)))

    @field_validator("material_dirs")
    @classmethod
    def _usable_dirs(cls, dirs: list[str]) -> list[str]:
        return [check_folder(folder) for folder in dirs]


def _first_error(exc: ValidationError) -> BadRequest:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
    return BadRequest(f"{where}: {message.removeprefix('Value error, ')}")


class UserSettings:
    """The settings file; reads merge defaults, writes merge shallowly and are atomic."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = UserSettingsModel().model_dump()
        self._lock = asyncio.Lock()

    def load(self) -> None:
        """Read settings.json (creating it when missing); a broken file keeps the defaults."""
        if not self.path.exists():
            self._save(self._data)
            return
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            check_nesting(stored, "settings")
            self._data = UserSettingsModel.model_validate(stored).model_dump()
        except (OSError, ValueError, RecursionError, BadRequest) as exc:
            log.warning("ignoring unreadable settings file %s: %s", self.path, exc)

    @property
    def data(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def get(self, key: str) -> Any:
        return copy.deepcopy(self._data[key])

    async def update(self, changes: Any) -> None:
        """Merge `changes` (dict values one level deep) after validating the result."""
        if not isinstance(changes, dict):
            raise BadRequest("body: must be an object of settings")
        # Deep values would be stored, then break every later read (deepcopy, pydantic).
        for key, value in changes.items():
            check_nesting(value, str(key))
        async with self._lock:
            merged = copy.deepcopy(self._data)
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
            try:
                checked = UserSettingsModel.model_validate(merged).model_dump()
            except ValidationError as exc:
                raise _first_error(exc) from exc
            self._save(checked)
            self._data = checked

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(data, indent=2, ensure_ascii=False))
