"""settings.json routes, the proxy setting and the outgoing HTTP client factory."""

import json

import httpx

from muralist.providers.http import HttpClientFactory
from tests.support import RunningServer


async def test_defaults_and_merge(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    assert (await client.get("/api/settings/exists")).json() == {"exists": True}
    settings = (await client.get("/api/settings")).json()
    assert settings["proxy"] == "system"
    assert settings["enabled_knowledge_data"] == []
    assert settings["system_prompt"]

    knowledge = [{"id": "k1", "name": "Brand book", "content": "Use teal."}]
    saved = await client.post("/api/settings", json={"enabled_knowledge_data": knowledge})
    assert saved.json() == {"status": "success", "message": "Settings updated successfully"}
    on_disk = json.loads(sqlite_server.services.user_settings.path.read_text())
    assert on_disk["enabled_knowledge_data"] == knowledge
    assert on_disk["proxy"] == "system"

    enabled = (await client.get("/api/settings/knowledge/enabled")).json()
    assert enabled["success"] is True and enabled["count"] == 1
    assert enabled["data"][0]["name"] == "Brand book"
    assert enabled["data"][0]["cover"] == "" and enabled["data"][0]["is_public"] is False


async def test_unknown_and_invalid_settings_are_refused(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    before = sqlite_server.services.user_settings.path.read_text()
    unknown = await client.post("/api/settings", json={"theme": "dark"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("theme")
    relative = await client.post("/api/settings", json={"material_dirs": ["pictures"]})
    assert relative.status_code == 400
    assert "material_dirs" in relative.json()["detail"]
    assert sqlite_server.services.user_settings.path.read_text() == before


async def test_proxy_routes(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    assert (await client.get("/api/settings/proxy")).json() == {"proxy": "system"}
    status = (await client.get("/api/settings/proxy/status")).json()
    assert status == {"enable": True, "configured": True, "message": "Using system proxy"}

    bad = await client.post("/api/settings/proxy", json={"proxy": "ftp://x"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("proxy")
    missing = await client.post("/api/settings/proxy", json={})
    assert missing.status_code == 422

    # The UI's "custom" mode with an empty URL sends "": accepted, meaning no proxy.
    assert (await client.post("/api/settings/proxy", json={"proxy": ""})).status_code == 200
    status = (await client.get("/api/settings/proxy/status")).json()
    assert status["enable"] is False

    ok = await client.post("/api/settings/proxy", json={"proxy": "http://127.0.0.1:3128"})
    assert ok.json()["status"] == "success"
    status = (await client.get("/api/settings/proxy/status")).json()
    assert status["message"] == "Using custom proxy"


async def test_proxy_applies_to_the_next_client_and_never_to_loopback() -> None:
    setting = {"value": "http://127.0.0.1:3128"}
    factory = HttpClientFactory(lambda: setting["value"])
    remote, local = httpx.URL("https://api.openai.com/v1/"), httpx.URL("http://127.0.0.1:8188/")

    async with factory.client() as client:
        assert isinstance(client._transport_for_url(remote), httpx.AsyncHTTPTransport)
        assert client._transport_for_url(remote) is not client._transport
        assert client._transport_for_url(local) is client._transport
        assert client._transport_for_url(httpx.URL("http://localhost:11434/")) is client._transport

    setting["value"] = "no_proxy"
    async with factory.client() as client:
        assert client._transport_for_url(remote) is client._transport


async def test_my_assets_dir(sqlite_server: RunningServer) -> None:
    answer = (await sqlite_server.client.get("/api/settings/my_assets_dir_path")).json()
    assert answer["success"] is True
    assert answer["path"] == str(sqlite_server.services.files.dir.resolve())
