"""The guard in front of HTTP and Socket.IO: content type, Origin, Host, token."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import socketio

from muralist.app import create_app
from tests.support import RunningServer, make_settings, running_server

TOKEN = "s3cret-token-for-tests"


async def test_json_routes_refuse_other_content_types(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    for path in ("/api/config", "/api/settings", "/api/canvas/create", "/api/settings/proxy"):
        response = await client.post(
            path, content=b'{"proxy": "no_proxy"}', headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 415, path
        assert "application/json" in response.json()["detail"]
    form = await client.post("/api/settings", data={"proxy": "no_proxy"})
    assert form.status_code == 415
    assert sqlite_server.services.user_settings.get("proxy") == "system"


async def test_foreign_origins_and_hosts_are_refused(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    evil = await client.post(
        "/api/settings/proxy",
        json={"proxy": "no_proxy"},
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status_code == 403 and "origin" in evil.json()["detail"]
    null = await client.get("/api/config", headers={"Origin": "null"})
    assert null.status_code == 403
    rebound = await client.get("/api/config", headers={"Host": "evil.example:57988"})
    assert rebound.status_code == 403 and "host" in rebound.json()["detail"]

    port = sqlite_server.url.rsplit(":", 1)[1]
    for origin in (sqlite_server.url, f"http://localhost:{port}"):
        same = await client.get("/api/config", headers={"Origin": origin})
        assert same.status_code == 200, origin
    assert sqlite_server.services.user_settings.get("proxy") == "system"


async def test_allowed_origins_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", allowed_origins=["http://localhost:5174"])
    async with running_server(settings) as server:
        ok = await server.client.get("/api/list_tools", headers={"Origin": "http://localhost:5174"})
        assert ok.status_code == 200
        async with server.socket(Origin="http://localhost:5174") as sio:
            assert sio.connected
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                server.url, transports=["websocket"], headers={"Origin": "http://x.y"}
            )


async def test_token_protects_http_and_socket(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", token=TOKEN)
    async with running_server(settings) as server:
        assert (await server.client.get("/api/list_tools")).status_code == 200

        async with httpx.AsyncClient(base_url=server.url) as anonymous:
            refused = await anonymous.get("/api/list_tools")
            assert refused.status_code == 401
            wrong = await anonymous.get(
                "/api/list_tools", headers={"Authorization": "Bearer wrong"}
            )
            assert wrong.status_code == 401

            # A browser opens /?token=..., gets a cookie and is sent to /.
            login = await anonymous.get("/", params={"token": TOKEN})
            assert login.status_code == 303 and login.headers["location"] == "/"
            assert "HttpOnly" in login.headers["set-cookie"]
            assert (await anonymous.get("/api/list_tools")).status_code == 200

        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(server.url, transports=["websocket"])
        async with server.socket(Authorization=f"Bearer {TOKEN}") as authorised:
            assert authorised.connected


def test_public_host_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MURALIST_TOKEN"):
        create_app(make_settings(tmp_path / "data", host="0.0.0.0"))
    assert create_app(make_settings(tmp_path / "data", host="0.0.0.0", token=TOKEN))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "muralist",
            "serve",
            "--host",
            "0.0.0.0",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "MURALIST_TOKEN" in result.stderr


async def test_unpaired_surrogates_are_refused_and_pairs_pass(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    await client.post("/api/canvas/create", json={"name": "C", "canvas_id": "c1"})
    lone = await client.post(
        "/api/canvas/c1/save",
        content=b'{"data": {"k": "a\\ud800b"}, "thumbnail": ""}',
        headers={"Content-Type": "application/json"},
    )
    assert lone.status_code == 400 and lone.json()["detail"].startswith("body")
    assert (await client.get("/api/canvas/c1")).json()["data"] == {}

    # httpx escapes non-ASCII as JSON does by default: an emoji is a surrogate *pair*.
    paired = await client.post("/api/canvas/c1/save", json={"data": {"k": "🎨"}, "thumbnail": ""})
    assert paired.status_code == 200
    assert (await client.get("/api/canvas/c1")).json()["data"] == {"k": "🎨"}
