"""settings.json routes, the proxy setting and the outgoing HTTP client factory."""

import json
from pathlib import Path

import httpx
import pytest

from muralist.errors import BadRequest
from muralist.providers.discovery import ModelDiscovery
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


async def test_deeply_nested_settings_are_refused_and_every_route_still_answers(
    sqlite_server: RunningServer,
) -> None:
    client = sqlite_server.client
    before = sqlite_server.services.user_settings.path.read_text()
    content: dict = {"text": "Use teal."}
    for _ in range(900):
        content = {"content": content}
    deep = [{"id": "k1", "name": "Brand book", "content": content}]
    refused = await client.post("/api/settings", json={"enabled_knowledge_data": deep})
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("enabled_knowledge_data")
    assert sqlite_server.services.user_settings.path.read_text() == before

    assert (await client.get("/api/settings")).status_code == 200
    assert (await client.get("/api/settings/knowledge/enabled")).json()["count"] == 0
    saved = await client.post("/api/settings/proxy", json={"proxy": "no_proxy"})
    assert saved.status_code == 200


async def test_values_later_routes_cannot_use_are_refused(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    client = sqlite_server.client
    before = sqlite_server.services.user_settings.path.read_text()
    cases = [
        ({"material_dirs": ["/tmp/\u0000x"]}, "material_dirs", "NUL"),
        ({"material_dirs": [str(tmp_path / ("a" * 300))]}, "material_dirs", "longer"),
        ({"proxy": "http://[::1"}, "proxy", "not a valid URL"),
        ({"proxy": "http://"}, "proxy", "no host"),
        ({"proxy": "socks4://127.0.0.1:1080"}, "proxy", "socks5://"),
    ]
    for body, field, words in cases:
        response = await client.post("/api/settings", json=body)
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith(field), response.json()
        assert words in response.json()["detail"], response.json()
    refused = await client.post("/api/settings/proxy", json={"proxy": "socks4://10.0.0.1:1080"})
    assert refused.status_code == 400 and "socks4" in refused.json()["detail"]
    assert sqlite_server.services.user_settings.path.read_text() == before

    # Every later route still answers: the material browser and the ComfyUI helpers.
    assert (await client.get("/api/browse_filesystem")).status_code == 200
    comfy_url = sqlite_server.services.config.get("comfyui")["url"]
    info = await client.post("/api/comfyui/object_info", json={"url": comfy_url})
    assert info.status_code != 500, info.text

    socks5 = await client.post("/api/settings/proxy", json={"proxy": "socks5://127.0.0.1:1080"})
    assert socks5.status_code == 200


async def test_a_hand_edited_bad_proxy_fails_calls_with_a_message_not_a_crash() -> None:
    for proxy, words in (("http://[::1", "not a valid URL"), ("socks4://h:1", "socks5")):
        with pytest.raises(BadRequest, match=words):
            HttpClientFactory(lambda proxy=proxy: proxy).client()

    # Model discovery runs in the background: it must end quietly, with no models.
    discovery = ModelDiscovery(HttpClientFactory(lambda: "socks4://h:1"), lambda: "http://h:1")
    await discovery.refresh()
    assert discovery.ollama_models() == []
    broken_url = ModelDiscovery(HttpClientFactory(lambda: "no_proxy"), lambda: "http://[::1")
    await broken_url.refresh()
    assert broken_url.ollama_models() == []
