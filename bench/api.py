"""Benchmark of the read routes the UI calls most, and of server start-up.

Two processes on this machine: Muralist (`muralist serve`, SQLite in a temporary data
directory, loopback) and this client (httpx, one keep-alive connection). Prints:

- p50 / p99 of GET /api/canvas/{id} for a canvas with 1,000 chat sessions
  (target: p50 under 5 ms; the upstream server took 35 ms);
- p50 / p99 of GET /api/list_chat_sessions with 10,000 sessions in all (target: p50 under 5 ms);
- start-up: from spawning `muralist serve` on a fresh data directory to the first 200 from
  GET /api/list_tools (target: under 1 s; upstream: 3.8 s), best and median of a few starts.

The sessions are written through the store's engine and tables before the server starts, in
one transaction, so seeding takes about a second.

Run: `.venv/bin/python bench/api.py [--requests 500] [--starts 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from muralist.store import Store
from muralist.store.sessions import bump_sessions_version
from muralist.store.tables import canvases, chat_sessions

CANVAS_ID = "benchcanvas"
ON_CANVAS = 1_000
TOTAL_SESSIONS = 10_000
OTHER_CANVASES = 90
TARGET_P50_MS = 5.0
TARGET_START_S = 1.0
SETTLE_S = 3.0


def _stamp(base: datetime, offset_ms: int) -> str:
    moment = base + timedelta(milliseconds=offset_ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scene() -> dict[str, Any]:
    """A modest scene: 40 shapes and 10 images, as a canvas in use holds."""
    elements = [
        {"id": f"el{i}", "type": "rectangle", "x": i * 10, "y": i * 5, "width": 100, "height": 80}
        for i in range(40)
    ]
    files = {}
    for i in range(10):
        elements.append({"id": f"im{i}", "type": "image", "fileId": f"f{i}", "x": 0, "y": 0})
        files[f"f{i}"] = {"id": f"f{i}", "mimeType": "image/png", "dataURL": f"/api/file/f{i}.png"}
    return {"elements": elements, "appState": {}, "files": files}


async def seed(database_url: str) -> None:
    """1,000 sessions on the bench canvas, the rest spread over other canvases."""
    store = await Store.open(database_url)
    try:
        base = datetime(2025, 1, 1, tzinfo=UTC)
        async with store.canvases.edit(CANVAS_ID, name="Bench canvas") as scene:
            scene.update(_scene())
        canvas_rows = [
            {
                "id": f"canvas{n}",
                "name": f"Canvas {n}",
                "data": "{}",
                "created_at": _stamp(base, n),
                "updated_at": _stamp(base, n),
            }
            for n in range(OTHER_CANVASES)
        ]
        session_rows = []
        for n in range(TOTAL_SESSIONS):
            canvas = CANVAS_ID if n < ON_CANVAS else f"canvas{n % OTHER_CANVASES}"
            session_rows.append(
                {
                    "id": f"session{n:05d}",
                    "canvas_id": canvas,
                    "title": f"Session {n}: a poster for the spring fair",
                    "model": "gpt-4o",
                    "provider": "openai",
                    "created_at": _stamp(base, n * 1000),
                    "updated_at": _stamp(base, n * 1000 + 500),
                }
            )
        async with store.engine.begin() as conn:
            await conn.execute(insert(canvases), canvas_rows)
            await conn.execute(insert(chat_sessions), session_rows)
            await bump_sessions_version(conn)
        assert await store.sessions.count() == TOTAL_SESSIONS
    finally:
        await store.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_command(data_dir: Path, port: int) -> list[str]:
    script = Path(sys.executable).with_name("muralist")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "muralist"]
    return [
        *program,
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--log-level",
        "WARNING",
    ]


@contextmanager
def server(data_dir: Path, env: dict[str, str]) -> Iterator[tuple[str, float]]:
    """Spawn `muralist serve`; yield its URL and the seconds until it first answered 200."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(_serve_command(data_dir, port), env=env)
    try:
        elapsed = _wait_for_first_answer(url, process, started)
        yield url, elapsed
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_first_answer(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    # Poll with fresh connections: a refused connect costs microseconds on loopback, so the
    # figure is within a millisecond of when the server could first have answered.
    with httpx.Client(base_url=url, trust_env=False, timeout=5) as client:
        while time.perf_counter() - started < 30:
            if process.poll() is not None:
                raise RuntimeError(f"muralist serve exited with {process.returncode}")
            try:
                response = client.get("/api/list_tools")
            except httpx.TransportError:
                time.sleep(0.002)
                continue
            if response.status_code == 200:
                return time.perf_counter() - started
            raise RuntimeError(f"GET /api/list_tools answered {response.status_code}")
    raise RuntimeError("the server did not answer within 30 s")


def measure(client: httpx.Client, path: str, count: int, check: Any) -> list[float]:
    """Milliseconds per request over `count` requests, after a warm-up."""
    for _ in range(max(20, count // 10)):
        check(client.get(path))
    times = []
    for _ in range(count):
        begin = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - begin) * 1000)
        check(response)
    return times


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _report(name: str, times: list[float]) -> bool:
    p50, p99 = _percentile(times, 0.50), _percentile(times, 0.99)
    met = p50 < TARGET_P50_MS
    verdict = "met" if met else "MISSED"
    print(
        f"{name:<44} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   mean {statistics.fmean(times):6.2f} ms"
        f"   ({len(times)} requests; target p50 < {TARGET_P50_MS:g} ms: {verdict})"
    )
    return met


def _check_canvas(response: httpx.Response) -> None:
    response.raise_for_status()
    assert len(response.json()["sessions"]) == ON_CANVAS


def _check_sessions(response: httpx.Response) -> None:
    response.raise_for_status()
    assert len(response.json()) == TOTAL_SESSIONS


def bench_reads(root: Path, env: dict[str, str], count: int) -> bool:
    data_dir = root / "reads"
    database_url = env.get("MURALIST_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{data_dir / 'localmanus.db'}"
    )
    begin = time.perf_counter()
    asyncio.run(seed(database_url))
    print(
        f"seeded {TOTAL_SESSIONS} sessions ({ON_CANVAS} on one canvas) in "
        f"{time.perf_counter() - begin:.2f} s"
    )
    with (
        server(data_dir, env) as (url, _),
        httpx.Client(base_url=url, trust_env=False, timeout=30) as client,
    ):
        # The server loads its chat service (about 1.7 s of CPU) in the background shortly
        # after start-up; the reads are measured once that is over, as a server in use runs.
        time.sleep(SETTLE_S)
        canvas = measure(client, f"/api/canvas/{CANVAS_ID}", count, _check_canvas)
        sessions = measure(client, "/api/list_chat_sessions", count, _check_sessions)
    met = _report(f"GET /api/canvas/{{id}} ({ON_CANVAS} sessions)", canvas)
    return _report(f"GET /api/list_chat_sessions ({TOTAL_SESSIONS} sessions)", sessions) and met


def bench_start(root: Path, env: dict[str, str], starts: int) -> bool:
    env = {key: value for key, value in env.items() if key != "MURALIST_DATABASE_URL"}
    figures = []
    for n in range(starts):
        data_dir = root / f"start{n}"
        with server(data_dir, env) as (_, elapsed):
            figures.append(elapsed)
        shutil.rmtree(data_dir, ignore_errors=True)
    best, median = min(figures), statistics.median(figures)
    met = median < TARGET_START_S
    print(
        f"{'start to first answer (fresh data dir)':<44} best {best * 1000:6.0f} ms"
        f"   median {median * 1000:6.0f} ms   ({starts} starts:"
        f" {', '.join(f'{s * 1000:.0f}' for s in figures)} ms;"
        f" target < {TARGET_START_S:g} s: {'met' if met else 'MISSED'})"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="measured requests per route")
    parser.add_argument("--starts", type=int, default=5, help="server starts to time")
    parser.add_argument(
        "--database-url", help="an empty database to seed instead of SQLite (e.g. PostgreSQL)"
    )
    args = parser.parse_args()
    env = dict(os.environ)
    if args.database_url:
        env["MURALIST_DATABASE_URL"] = args.database_url
    with tempfile.TemporaryDirectory(prefix="muralist-bench-") as tmp:
        reads = bench_reads(Path(tmp), env, args.requests)
        start = bench_start(Path(tmp), env, args.starts)
    return 0 if reads and start else 1


if __name__ == "__main__":
    sys.exit(main())
