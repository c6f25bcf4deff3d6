"""Server settings, read from MURALIST_* environment variables and command-line flags."""

import ipaddress
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PORT = 57988


def default_data_dir() -> Path:
    """The platform's per-user data directory for Muralist."""
    return Path(platformdirs.user_data_dir("muralist", appauthor=False))


def is_loopback(host: str) -> bool:
    """True when `host` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServerSettings(BaseSettings):
    """Everything the server needs to start; each field is also MURALIST_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="MURALIST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    ui_dir: Path | None = None
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "muralist"
    # Scaled mode: whether `serve` also runs generation tasks (workers always do), and how
    # often a running task proves its worker alive (a task is taken over after a lapse).
    run_tasks: bool = True
    task_heartbeat_s: float = Field(30.0, ge=1, le=3600)
    token: str | None = None
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_upload_mb: float = Field(20.0, gt=0)
    jaaz_base_url: str = "https://jaaz.app"
    ollama_url: str = "http://localhost:11434"
    comfyui_timeout_s: float = Field(600.0, gt=0)
    log_level: str = "INFO"

    _split = field_validator("allowed_origins", "allowed_hosts", mode="before")(_split_csv)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL of the record store (SQLite in the data directory by default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'localmanus.db'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "config.toml"

    @property
    def settings_path(self) -> Path:
        return self.data_dir / "settings.json"

    def check(self) -> None:
        """Refuse configurations that would expose the server without a token."""
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"refusing to bind {self.host}: a non-loopback host requires MURALIST_TOKEN"
            )
