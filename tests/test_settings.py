"""ServerSettings: MURALIST_* variables, defaults, and the checks made before start-up."""

from pathlib import Path

import platformdirs
import pytest

from muralist.settings import ServerSettings


def test_environment_variables_configure_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MURALIST_PORT", "8123")
    monkeypatch.setenv("MURALIST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MURALIST_ALLOWED_ORIGINS", "http://localhost:5174, http://a.test")
    monkeypatch.setenv("MURALIST_MAX_UPLOAD_MB", "5")
    settings = ServerSettings()
    assert (settings.port, settings.data_dir) == (8123, tmp_path)
    assert settings.allowed_origins == ["http://localhost:5174", "http://a.test"]
    assert settings.max_upload_mb == 5
    # A flag (a keyword here, as the CLI passes it) wins over the variable.
    assert ServerSettings(port=9000).port == 9000


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MURALIST_PORT", "MURALIST_DATA_DIR", "MURALIST_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = ServerSettings()
    assert (settings.host, settings.port) == ("127.0.0.1", 57988)
    assert settings.data_dir == Path(platformdirs.user_data_dir("muralist", appauthor=False))


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MURALIST_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        ServerSettings()
