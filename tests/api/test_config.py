"""config.toml over HTTP: masking, validation, comments kept, nothing removed silently."""

import tomllib

from muralist.providers.config import mask_key
from tests.support import RunningServer

KEY = "sk-live-0123456789abcdef"


async def _post(server: RunningServer, body: dict) -> dict:
    response = await server.client.post("/api/config", json=body)
    return {"status_code": response.status_code, **response.json()}


async def test_exists_and_defaults(server: RunningServer) -> None:
    assert (await server.client.get("/api/config/exists")).json() == {"exists": True}
    config = (await server.client.get("/api/config")).json()
    assert config["jaaz"]["url"] == "https://jaaz.app/api/v1/"
    assert config["openai"]["max_tokens"] == 8192
    assert config["comfyui"]["url"] == "http://127.0.0.1:8188"


async def test_keys_are_masked_and_a_masked_key_posted_back_is_kept(
    server: RunningServer,
) -> None:
    config = (await server.client.get("/api/config")).json()
    config["openai"]["api_key"] = KEY
    assert (await _post(server, config))["status"] == "success"

    shown = (await server.client.get("/api/config")).json()
    assert shown["openai"]["api_key"] == mask_key(KEY)
    assert KEY not in (await server.client.get("/api/config")).text

    # The UI's login flow: GET, change one provider, POST everything back.
    shown["jaaz"]["api_key"] = "jaaz-token-abcdefghijkl"
    assert (await _post(server, shown))["status"] == "success"
    stored = server.services.config
    assert stored.get("openai")["api_key"] == KEY
    assert stored.get("jaaz")["api_key"] == "jaaz-token-abcdefghijkl"
    on_disk = tomllib.loads(stored.path.read_text())
    assert on_disk["openai"]["api_key"] == KEY


async def test_jaaz_url_is_forced_and_custom_providers_marked(server: RunningServer) -> None:
    body = {
        "jaaz": {"url": "http://attacker.example/", "api_key": ""},
        "volces": {
            "url": "https://ark.cn-beijing.volces.com/api/v3/",
            "api_key": "",
            "models": {"doubao-seedream": {"type": "image"}},
        },
    }
    assert (await _post(server, body))["status"] == "success"
    config = (await server.client.get("/api/config")).json()
    assert config["jaaz"]["url"] == "https://jaaz.app/api/v1/"
    assert config["volces"]["is_custom"] is True
    # Image models survive (upstream dropped them at load time).
    assert config["volces"]["models"]["doubao-seedream"]["type"] == "image"


async def test_missing_provider_kept_null_removes(server: RunningServer) -> None:
    extra = {"url": "http://127.0.0.1:1/v1", "api_key": "k", "models": {"m": {"type": "text"}}}
    await _post(server, {"mine": extra})
    await _post(server, {"openai": {"url": "https://api.openai.com/v1/", "api_key": ""}})
    assert "mine" in (await server.client.get("/api/config")).json()
    await _post(server, {"mine": None})
    assert "mine" not in (await server.client.get("/api/config")).json()
    assert "mine" not in tomllib.loads(server.services.config.path.read_text())


async def test_invalid_config_names_the_field_and_writes_nothing(
    server: RunningServer,
) -> None:
    before = server.services.config.path.read_text()
    bad = {"openai": {"url": "https://x/", "api_key": "", "max_tokens": "lots"}}
    answer = await _post(server, bad)
    assert answer["status_code"] == 400
    assert answer["status"] == "error"
    assert "openai.max_tokens" in answer["message"]
    wrong_type = await _post(server, {"openai": {"models": {"m": {"type": "audio"}}}})
    assert wrong_type["status_code"] == 400
    assert "openai.models.m.type" in wrong_type["message"]
    not_object = await server.client.post("/api/config", json=["openai"])
    assert not_object.status_code == 422
    assert server.services.config.path.read_text() == before


async def test_user_comments_survive_an_update(server: RunningServer) -> None:
    path = server.services.config.path
    text = path.read_text().replace("[openai]", "# my OpenAI account\n[openai]")
    path.write_text("# written by hand\n" + text)
    server.services.config.load()

    await _post(server, {"openai": {"url": "https://api.openai.com/v1/", "api_key": KEY}})
    written = path.read_text()
    assert written.startswith("# written by hand\n")
    assert "# my OpenAI account\n[openai]" in written
    assert tomllib.loads(written)["openai"]["api_key"] == KEY


async def test_values_toml_cannot_hold_are_refused_before_anything_changes(
    server: RunningServer,
) -> None:
    before_disk = server.services.config.path.read_text()
    before = (await server.client.get("/api/config")).json()
    for extra, field in (([None], "openai.extra.0"), ({"a": None}, "openai.extra.a")):
        answer = await _post(server, {"openai": {"extra": extra}})
        assert answer["status_code"] == 400, extra
        assert answer["detail"].startswith(field)
    surrogate = await server.client.post(
        "/api/config",
        content=b'{"openai": {"url": "\\ud800"}}',
        headers={"Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400
    assert (await server.client.get("/api/config")).json() == before
    assert server.services.config.path.read_text() == before_disk


def _nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


async def test_deeply_nested_values_are_refused_before_anything_is_written(
    server: RunningServer,
) -> None:
    path = server.services.config.path
    before = path.read_text()
    cases = {
        "openai.extra": {"openai": {"extra": _nested(101)}},
        "openai.models": {"openai": {"models": {"m": {"type": "text", "x": _nested(40)}}}},
        "mine.extra": {"mine": {"url": "", "extra": _nested(600)}},
    }
    for field, body in cases.items():
        answer = await _post(server, body)
        assert answer["status_code"] == 400, field
        assert answer["detail"].startswith(field) and "nested" in answer["detail"], answer
    assert path.read_text() == before
    # What is on disk still loads, as the next `muralist serve` will.
    server.services.config.load()


async def test_provider_urls_must_be_http_urls(server: RunningServer) -> None:
    before = server.services.config.path.read_text()
    for url in ("http://[::1", "ftp://example.com/", "http://", "localhost:8188"):
        answer = await _post(server, {"comfyui": {"url": url}})
        assert answer["status_code"] == 400, url
        assert answer["detail"].startswith("comfyui.url"), answer
    assert server.services.config.path.read_text() == before

    for url in ("", "http://127.0.0.1:8189", "https://comfy.example/base/"):
        assert (await _post(server, {"comfyui": {"url": url}}))["status"] == "success", url


async def test_a_masked_key_only_ever_keeps_its_own_provider_key(server: RunningServer) -> None:
    other = "r8_another-key-0123456789"
    await _post(server, {"openai": {"url": "https://api.openai.com/v1/", "api_key": KEY}})
    await _post(server, {"replicate": {"url": "https://api.replicate.com/v1/", "api_key": other}})
    before = server.services.config.path.read_text()

    copied = mask_key(KEY)
    for provider in ("replicate", "ollama"):  # one with its own key, one with none
        answer = await _post(server, {provider: {"url": "https://x.example/", "api_key": copied}})
        assert answer["status_code"] == 400, provider
        assert answer["detail"].startswith(f"{provider}.api_key"), answer
    assert server.services.config.path.read_text() == before
    assert server.services.config.get("replicate")["api_key"] == other
    assert server.services.config.get("ollama")["api_key"] == ""

    kept = await _post(server, {"openai": {"url": "https://api.openai.com/v1/", "api_key": copied}})
    assert kept["status"] == "success"
    assert server.services.config.get("openai")["api_key"] == KEY
