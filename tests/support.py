"""Test support: a real Muralist server on a loopback port, and throwaway PostgreSQL databases."""

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import socketio
import uvicorn

from muralist.agents.attach import chat_service
from muralist.app import MuralistApp, create_app
from muralist.services import Services
from muralist.settings import ServerSettings

POSTGRES_DSN = os.environ.get("MURALIST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("MURALIST_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def postgres_reachable() -> bool:
    return _reachable(5432)


def redis_reachable() -> bool:
    return _reachable(6379)


def require_services(*, postgres: bool = False, redis: bool = False) -> None:
    """Skip the test where a needed server is not running; in CI (CI set), fail it instead."""
    missing = [
        name
        for name, needed, up in (
            ("PostgreSQL on 127.0.0.1:5432", postgres, postgres_reachable),
            ("Redis on 127.0.0.1:6379", redis, redis_reachable),
        )
        if needed and not up()
    ]
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail("CI must reach " + " and ".join(missing))
    pytest.skip("not reachable: " + " and ".join(missing))


async def drop_redis_prefix(prefix: str) -> None:
    """Delete every Redis key a test made under its own prefix."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    name = f"muralist_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{POSTGRES_DSN}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{POSTGRES_DSN.split('://', 1)[1]}/{name}"
    finally:
        admin = await asyncpg.connect(f"{POSTGRES_DSN}/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass
class RunningServer:
    """A Muralist server started on a free loopback port."""

    app: MuralistApp
    url: str
    client: httpx.AsyncClient

    @property
    def services(self) -> Services:
        return self.app.services

    @asynccontextmanager
    async def socket(self, **headers: str) -> AsyncIterator[socketio.AsyncClient]:
        """A connected Socket.IO client speaking the WebSocket transport directly."""
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            self.url, transports=["websocket"], socketio_path="/socket.io", headers=headers
        )
        try:
            yield sio
        finally:
            await sio.disconnect()


def make_settings(data_dir: Path, **overrides: Any) -> ServerSettings:
    return ServerSettings(data_dir=data_dir, port=0, **overrides)


@asynccontextmanager
async def running_server(settings: ServerSettings) -> AsyncIterator[RunningServer]:
    """Start uvicorn in this event loop and stop it when the block ends."""
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    # The chat service loads in the background; tests start once it is there.
    await chat_service(app.services)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        try:
            yield RunningServer(app=app, url=url, client=client)
        finally:
            server.should_exit = True
            await task
