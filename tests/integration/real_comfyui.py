"""Find and start the real ComfyUI that scripts/comfyui-env builds outside the repository.

The folder is $MURALIST_COMFYUI_DIR, else ${MURALIST_CACHE_DIR:-~/.cache/muralist}/comfyui.
Outside CI a missing build skips the tests that need it (saying how to build it); in CI
(`CI` set) it fails them, because CI builds it first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_TIMEOUT_S = 180.0


def comfyui_dir() -> Path:
    """Where scripts/comfyui-env puts (or put) the build."""
    explicit = os.environ.get("MURALIST_COMFYUI_DIR")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("MURALIST_CACHE_DIR") or str(Path.home() / ".cache" / "muralist")
    return Path(cache) / "comfyui"


def require_comfyui() -> Path:
    """The build folder, or skip (fail in CI) with the command that makes it."""
    folder = comfyui_dir()
    ready = (folder / ".stamp").is_file() and (folder / "venv" / "bin" / "python").exists()
    if ready and (folder / "src" / "main.py").is_file():
        return folder
    reason = f"no ComfyUI build in {folder}: run scripts/comfyui-env (about 2 minutes, 6 GB)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RealComfyUI:
    """A running ComfyUI process on loopback."""

    url: str
    output_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def real_comfyui(folder: Path, workdir: Path) -> Iterator[RealComfyUI]:
    """Start ComfyUI on the CPU with its folders under `workdir`; stop it afterwards."""
    port = free_port()
    dirs = {name: workdir / name for name in ("input", "output", "temp", "user")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "comfyui.log"
    command = [
        str(folder / "venv" / "bin" / "python"), "main.py", "--cpu",
        "--listen", "127.0.0.1", "--port", str(port), "--disable-auto-launch",
        "--input-directory", str(dirs["input"]), "--output-directory", str(dirs["output"]),
        "--temp-directory", str(dirs["temp"]), "--user-directory", str(dirs["user"]),
        "--database-url", "sqlite:///:memory:",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=folder / "src", env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = RealComfyUI(f"http://127.0.0.1:{port}", dirs["output"], log_path)
    try:
        _wait_until_up(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: RealComfyUI, process: subprocess.Popen[bytes]) -> None:
    """Poll /system_stats: a separate process offers nothing to await but its answers."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/system_stats", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"ComfyUI did not answer within {START_TIMEOUT_S:g} s:\n{server.log_tail()}")
