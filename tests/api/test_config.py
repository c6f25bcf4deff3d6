"""config.toml over HTTP: masking, validation, comments kept, nothing removed silently."""

import tomllib

from muralist.providers.config import mask_key
from tests.support import RunningServer

KEY = "sk-live-0123456789abcdef"


async def _post(server: RunningServer, body: dict) -> dict:
    response = await server.client.post("/api/config", json=body)
    return {"status_code": response.status_code, **response.json()}


async def test_exists_and_defaults(sqlite_server: RunningServer) -> None:
    assert (await sqlite_server.client.get("/api/config/exists")).json() == {"exists": True}
    config = (await sqlite_server.client.get("/api/config")).json()
    assert config["jaaz"]["url"] == "https://jaaz.app/api/v1/"
    assert config["openai"]["max_tokens"] == 8192
    assert config["comfyui"]["url"] == "http://127.0.0.1:8188"


async def test_keys_are_masked_and_a_masked_key_posted_back_is_kept(
    sqlite_server: RunningServer,
) -> None:
    config = (await sqlite_server.client.get("/api/config")).json()
    config["openai"]["api_key"] = KEY
    assert (await _post(sqlite_server, config))["status"] == "success"

    shown = (await sqlite_server.client.get("/api/config")).json()
    assert shown["openai"]["api_key"] == mask_key(KEY)
    assert KEY not in (await sqlite_server.client.get("/api/config")).text

    # The UI's login flow: GET, change one provider, POST everything back.
    shown["jaaz"]["api_key"] = "jaaz-token-abcdefghijkl"
    assert (await _post(sqlite_server, shown))["status"] == "success"
    stored = sqlite_server.services.config
    assert stored.get("openai")["api_key"] == KEY
    assert stored.get("jaaz")["api_key"] == "jaaz-token-abcdefghijkl"
    on_disk = tomllib.loads(stored.path.read_text())
    assert on_disk["openai"]["api_key"] == KEY


async def test_jaaz_url_is_forced_and_custom_providers_marked(sqlite_server: RunningServer) -> None:
    body = {
        "jaaz": {"url": "http://attacker.example/", "api_key": ""},
        "volces": {
            "url": "https://ark.cn-beijing.volces.com/api/v3/",
            "api_key": "",
            "models": {"doubao-seedream": {"type": "image"}},
        },
    }
    assert (await _post(sqlite_server, body))["status"] == "success"
    config = (await sqlite_server.client.get("/api/config")).json()
    assert config["jaaz"]["url"] == "https://jaaz.app/api/v1/"
    assert config["volces"]["is_custom"] is True
    # Image models survive (upstream dropped them at load time).
    assert config["volces"]["models"]["doubao-seedream"]["type"] == "image"


async def test_missing_provider_kept_null_removes(sqlite_server: RunningServer) -> None:
    extra = {"url": "http://127.0.0.1:1/v1", "api_key": "k", "models": {"m": {"type": "text"}}}
    await _post(sqlite_server, {"mine": extra})
    await _post(sqlite_server, {"openai": {"url": "https://api.openai.com/v1/", "api_key": ""}})
    assert "mine" in (await sqlite_server.client.get("/api/config")).json()
    await _post(sqlite_server, {"mine": None})
    assert "mine" not in (await sqlite_server.client.get("/api/config")).json()
    assert "mine" not in tomllib.loads(sqlite_server.services.config.path.read_text())


async def test_invalid_config_names_the_field_and_writes_nothing(
    sqlite_server: RunningServer,
) -> None:
    before = sqlite_server.services.config.path.read_text()
    bad = {"openai": {"url": "https://x/", "api_key": "", "max_tokens": "lots"}}
    answer = await _post(sqlite_server, bad)
    assert answer["status_code"] == 400
    assert answer["status"] == "error"
    assert "openai.max_tokens" in answer["message"]
    wrong_type = await _post(sqlite_server, {"openai": {"models": {"m": {"type": "audio"}}}})
    assert wrong_type["status_code"] == 400
    assert "openai.models.m.type" in wrong_type["message"]
    not_object = await sqlite_server.client.post("/api/config", json=["openai"])
    assert not_object.status_code == 422
    assert sqlite_server.services.config.path.read_text() == before


async def test_user_comments_survive_an_update(sqlite_server: RunningServer) -> None:
    path = sqlite_server.services.config.path
    text = path.read_text().replace("[openai]", "# my OpenAI account\n[openai]")
    path.write_text("# written by hand\n" + text)
    sqlite_server.services.config.load()

    await _post(sqlite_server, {"openai": {"url": "https://api.openai.com/v1/", "api_key": KEY}})
    written = path.read_text()
    assert written.startswith("# written by hand\n")
    assert "# my OpenAI account\n[openai]" in written
    assert tomllib.loads(written)["openai"]["api_key"] == KEY


async def test_values_toml_cannot_hold_are_refused_before_anything_changes(
    sqlite_server: RunningServer,
) -> None:
    before_disk = sqlite_server.services.config.path.read_text()
    before = (await sqlite_server.client.get("/api/config")).json()
    for extra, field in (([None], "openai.extra.0"), ({"a": None}, "openai.extra.a")):
        answer = await _post(sqlite_server, {"openai": {"extra": extra}})
        assert answer["status_code"] == 400, extra
        assert answer["detail"].startswith(field)
    surrogate = await sqlite_server.client.post(
        "/api/config",
        content=b'{"openai": {"url": "\\ud800"}}',
        headers={"Content-Type": "application/json"},
    )
    assert surrogate.status_code == 400
    assert (await sqlite_server.client.get("/api/config")).json() == before
    assert sqlite_server.services.config.path.read_text() == before_disk
