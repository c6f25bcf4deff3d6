"""Benchmark of the V1 task API against a zero-latency fake provider.

Starts three processes' worth of work on this machine: the fake OpenAI images server (its own
process), Muralist (`python -m muralist serve`, its own process, SQLite) and this client.
Prints:

- tasks created per second through POST /api/v1/image (target: over 500/s on 2 cores),
- p50 / p95 of a 100-id GET /api/v1/task/search (target: p50 under 5 ms),
- the time from POST to the `succeeded` task_update on the task's room (p50 / p95).

Run: `.venv/bin/python bench/tasks.py [--creates 3000] [--concurrency 32]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import socketio

ROOT = Path(__file__).resolve().parent.parent
FAKE_SCRIPT = """
import sys, threading
from tests.fakes.openai_images import FakeOpenAIImages
with FakeOpenAIImages() as fake:
    print(fake.base_url, flush=True)
    sys.stdin.read()
"""
TOOL = "generate_image_by_gpt_image_1_openai"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_fake() -> tuple[subprocess.Popen[str], str]:
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE_SCRIPT],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None
    return fake, fake.stdout.readline().strip()


def start_server(data_dir: Path, fake_url: str, port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").write_text(
        f'[openai]\nurl = "{fake_url}"\napi_key = "sk-test-openai"\n', encoding="utf-8"
    )
    command = [
        sys.executable,
        "-m",
        "muralist",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    env = {**os.environ, "MURALIST_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([*command, "--log-level", "WARNING"], cwd=ROOT, env=env)


async def wait_until_up(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (await client.get("/api/list_tools")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start within 30 s")


async def create_many(url: str, count: int, concurrency: int) -> tuple[float, list[str]]:
    """POST /api/v1/image `count` times over `concurrency` connections (aiohttp: httpx's
    client costs more CPU per request than the server does, and would measure itself)."""
    ids: list[str] = []
    body = {"prompt": "bench", "tool": TOOL}
    remaining = iter(range(count))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:

        async def worker() -> None:
            for _ in remaining:
                async with session.post("/api/v1/image", json=body) as response:
                    answer = await response.json()
                    assert response.status == 202, answer
                    ids.append(answer["task_id"])

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start), ids


async def drain(client: httpx.AsyncClient, ids: list[str]) -> float:
    """Seconds until every created task ended."""
    start = time.perf_counter()
    pending = list(ids)
    while pending:
        batch, pending = pending[:100], pending[100:]
        tasks = (
            await client.get("/api/v1/task/search", params={"task_ids": ",".join(batch)})
        ).json()["tasks"]
        unfinished = [t["task_id"] for t in tasks if t["status"] in ("queued", "running")]
        if unfinished:
            pending.extend(unfinished)
            await asyncio.sleep(0.2)
    return time.perf_counter() - start


async def search_latency(url: str, ids: list[str], rounds: int) -> list[float]:
    """Milliseconds of sequential 100-id searches, measured at the client."""
    query = {"task_ids": ",".join(ids[:100])}
    timings = []
    async with aiohttp.ClientSession(base_url=url) as session:
        for _ in range(rounds):
            start = time.perf_counter()
            async with session.get("/api/v1/task/search", params=query) as response:
                body = await response.read()
            timings.append((time.perf_counter() - start) * 1000)
            assert body.count(b'"task_id"') == min(100, len(ids))
    return timings


async def create_to_succeeded(client: httpx.AsyncClient, url: str, rounds: int) -> list[float]:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, transports=["websocket"])
    done: dict[str, asyncio.Future[float]] = {}

    async def on_message(data: dict) -> None:
        future = done.get(data.get("task_id", ""))
        if future is not None and data.get("status") == "succeeded" and not future.done():
            future.set_result(time.perf_counter())

    sio.on("message", on_message)
    timings = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            response = await client.post("/api/v1/image", json={"prompt": "latency", "tool": TOOL})
            task_id = response.json()["task_id"]
            done[task_id] = asyncio.get_running_loop().create_future()
            await sio.call("join", {"task_id": task_id}, timeout=5)
            status = (await client.get(f"/api/v1/video/status/{task_id}")).json()["status"]
            if status == "succeeded" and not done[task_id].done():
                done[task_id].set_result(time.perf_counter())
            finished = await asyncio.wait_for(done[task_id], 30)
            timings.append((finished - start) * 1000)
    finally:
        await sio.disconnect()
    return timings


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--latency-rounds", type=int, default=50)
    args = parser.parse_args()

    fake, fake_url = start_fake()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", fake_url, port)
        url = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency
        )
        try:
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
                await wait_until_up(client)
                rate, ids = await create_many(url, args.creates, args.concurrency)
                print(
                    f"tasks created per second through the API: {rate:.0f}/s "
                    f"({args.creates} tasks, concurrency {args.concurrency}; target > 500/s)"
                )
                drained = await drain(client, ids)
                print(f"all {len(ids)} tasks ended {drained:.1f} s after the last create")
                timings = await search_latency(url, ids, args.searches)
                print(
                    f"search of 100 ids: p50 {statistics.median(timings):.2f} ms, "
                    f"p95 {pct(timings, 95):.2f} ms (target p50 < 5 ms)"
                )
                latency = await create_to_succeeded(client, url, args.latency_rounds)
                print(
                    f"create -> succeeded: p50 {statistics.median(latency):.1f} ms, "
                    f"p95 {pct(latency, 95):.1f} ms ({args.latency_rounds} tasks one at a time)"
                )
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
            assert fake.stdin is not None
            fake.stdin.close()
            fake.wait(30)


if __name__ == "__main__":
    asyncio.run(main())
