"""`muralist serve` as a person starts it: a real process, its log, its first answer."""

import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lines(stream: object, into: "queue.Queue[str]") -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_serve_logs_where_it_runs_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MURALIST_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "muralist", "serve", "--port", str(port), "--data-dir", data_dir],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, lines), daemon=True).start()
    seen: list[str] = []
    try:
        while not any("Application startup complete" in line for line in seen):
            seen.append(lines.get(timeout=30))
        answer = httpx.get(f"http://127.0.0.1:{port}/api/list_tools", trust_env=False)
        assert answer.status_code == 200 and answer.json() == []
    finally:
        process.terminate()
        process.wait(timeout=30)
    log = "".join(seen)
    assert f"Muralist listening on http://127.0.0.1:{port}" in log
    assert f"data directory: {data_dir}" in log
    assert f"database: sqlite+aiosqlite:///{data_dir / 'localmanus.db'}" in log
    assert "providers: 4 configured, with a key: none" in log
    assert {p.name for p in data_dir.iterdir()} >= {"localmanus.db", "config.toml", "settings.json"}
