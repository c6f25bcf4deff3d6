"""Benchmark of V1 tasks in the scaled mode: a server and task workers on PostgreSQL and Redis.

Starts, as separate processes: the fake OpenAI images server (zero latency), `muralist serve
--no-tasks` and `--workers` × `muralist worker`, all on a fresh PostgreSQL database and a
Redis key prefix of their own (both removed afterwards). Prints:

- tasks created per second through POST /api/v1/image (the row insert plus the SAQ enqueue),
- how long the workers took to run them all (the provider's limit of 4 holds across workers),
- POST to the `succeeded` task_update on a socket of the server, one task at a time: the hops
  server -> Redis -> worker -> PostgreSQL -> Redis -> server -> socket.

Run: `.venv/bin/python bench/tasks_scaled.py [--workers 2] [--creates 1000]`. Needs
PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (MURALIST_TEST_POSTGRES /
MURALIST_TEST_REDIS override them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis
from tasks import (  # bench/tasks.py: the same client side as the local-mode benchmark
    ROOT,
    create_many,
    create_to_succeeded,
    drain,
    free_port,
    pct,
    start_fake,
    wait_until_up,
)

POSTGRES = os.environ.get("MURALIST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("MURALIST_TEST_REDIS", "redis://127.0.0.1:6379/0")


def environment(database: str, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "MURALIST_DATABASE_URL": f"postgresql+asyncpg://{POSTGRES.split('://', 1)[1]}/{database}",
        "MURALIST_REDIS_URL": REDIS,
        "MURALIST_REDIS_PREFIX": prefix,
        "MURALIST_LOG_LEVEL": "WARNING",
    }


def start_serve(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "muralist", "serve", "--no-tasks", "--port", str(port)]
    return subprocess.Popen([*command, "--data-dir", str(data_dir)], cwd=ROOT, env=env)


def start_worker(data_dir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "muralist", "worker", "--data-dir", str(data_dir)]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    line = worker.stdout.readline()
    if "ready" not in line:
        raise RuntimeError(f"the worker did not start: {line!r}")
    return worker


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-rounds", type=int, default=50)
    args = parser.parse_args()

    database = f"muralist_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"muralist-bench-{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{POSTGRES}/postgres")
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    env = environment(database, prefix)
    fake, fake_url = start_fake()
    processes: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            (data_dir / "config.toml").write_text(
                f'[openai]\nurl = "{fake_url}"\napi_key = "sk-test-openai"\n', encoding="utf-8"
            )
            port = free_port()
            processes.append(start_serve(data_dir, port, env))
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                await wait_until_up(client)
                for _ in range(args.workers):
                    processes.append(start_worker(data_dir, env))
                rate, ids = await create_many(url, args.creates, args.concurrency)
                print(
                    f"tasks created per second through the API: {rate:.0f}/s "
                    f"({args.creates} tasks, concurrency {args.concurrency})"
                )
                drained = await drain(client, ids)
                print(
                    f"{len(ids)} tasks run by {args.workers} worker(s) in {drained:.1f} s after "
                    f"the last create ({len(ids) / drained:.0f} tasks/s; provider limit 4)"
                )
                latency = await create_to_succeeded(client, url, args.latency_rounds)
                print(
                    f"create -> succeeded through a worker: p50 "
                    f"{statistics.median(latency):.1f} ms, p95 {pct(latency, 95):.1f} ms "
                    f"({args.latency_rounds} tasks one at a time)"
                )
    finally:
        for process in reversed(processes):
            stop(process)
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(30)
        redis = aioredis.Redis.from_url(REDIS)
        keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        admin = await asyncpg.connect(f"{POSTGRES}/postgres")
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
