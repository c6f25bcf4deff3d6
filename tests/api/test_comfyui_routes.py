"""ComfyUI settings routes: saved workflows and the helpers that reach ComfyUI."""

import json

from tests.fakes.comfyui import FakeComfyUI
from tests.support import RunningServer

GRAPH = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "m"}},
}
INPUTS = [
    {
        "name": "width_1",
        "type": "number",
        "description": "Width",
        "node_id": "1",
        "node_input_name": "width",
        "default_value": 64,
        "required": False,
    }
]


def _workflow(name: str = "blank image", **changes: object) -> dict:
    return {
        "name": name,
        "api_json": GRAPH,
        "description": "A blank picture",
        "inputs": INPUTS,
        **changes,
    }


async def test_workflow_create_list_delete(server: RunningServer) -> None:
    client = server.client
    assert (
        await client.post("/api/settings/comfyui/create_workflow", json=_workflow())
    ).json() == {"success": True}
    await client.post("/api/settings/comfyui/create_workflow", json=_workflow("second"))
    rows = (await client.get("/api/settings/comfyui/list_workflows")).json()
    assert [row["name"] for row in rows] == ["second", "blank_image"]
    assert json.loads(rows[1]["api_json"]) == GRAPH
    assert json.loads(rows[1]["inputs"])[0]["node_input_name"] == "width"
    assert rows[1]["outputs"] == "null"

    async def workflow_tools() -> list[str]:
        tools = (await client.get("/api/list_tools")).json()
        return [t["id"] for t in tools if t["provider"] == "comfyui"]

    # The default config names a ComfyUI URL, so saved workflows are tools at once.
    assert await workflow_tools() == ["comfyui_second", "comfyui_blank_image"]

    deleted = await client.delete(f"/api/settings/comfyui/delete_workflow/{rows[0]['id']}")
    assert deleted.status_code == 200
    rows = (await client.get("/api/settings/comfyui/list_workflows")).json()
    assert [row["name"] for row in rows] == ["blank_image"]
    assert await workflow_tools() == ["comfyui_blank_image"]
    config = (await client.get("/api/config")).json()
    config["comfyui"]["url"] = ""
    assert (await client.post("/api/config", json=config)).json()["status"] == "success"
    assert await workflow_tools() == []  # no ComfyUI URL, no workflow tools
    again = await client.delete("/api/settings/comfyui/delete_workflow/999")
    assert again.status_code == 200
    not_int = await client.delete("/api/settings/comfyui/delete_workflow/abc")
    assert not_int.status_code == 422


async def test_workflow_validation_names_the_field(server: RunningServer) -> None:
    client = server.client
    cases = {
        "name": _workflow(""),
        # comfyui_<name> must fit OpenAI's 64-character function names.
        "name ": _workflow("w" * 57),
        "description": _workflow(description=" "),
        "inputs": _workflow(inputs=[]),
        "api_json": _workflow(api_json={}),
        "inputs.0.node_id": _workflow(inputs=[{**INPUTS[0], "node_id": "9"}]),
    }
    for field, body in cases.items():
        response = await client.post("/api/settings/comfyui/create_workflow", json=body)
        assert response.status_code == 400, field
        assert response.json()["detail"].startswith(field.strip()), response.json()
    await client.post("/api/settings/comfyui/create_workflow", json=_workflow())
    duplicate = await client.post("/api/settings/comfyui/create_workflow", json=_workflow())
    assert duplicate.status_code == 409 and "name" in duplicate.json()["detail"]
    assert len((await client.get("/api/settings/comfyui/list_workflows")).json()) == 1


async def test_helpers_reach_only_the_configured_comfyui(server: RunningServer) -> None:
    client = server.client
    async with FakeComfyUI() as comfy:
        config = (await client.get("/api/config")).json()
        config["comfyui"]["url"] = comfy.url
        await client.post("/api/config", json=config)

        stats = await client.post(
            "/api/settings/comfyui/proxy", json={"url": comfy.url, "path": "/system_stats"}
        )
        assert stats.status_code == 200 and "system" in stats.json()
        info = await client.post("/api/comfyui/object_info", json={"url": comfy.url + "/"})
        assert info.status_code == 200 and isinstance(info.json(), dict)

        other = await client.post(
            "/api/settings/comfyui/proxy",
            json={"url": "http://169.254.169.254", "path": "/latest/meta-data"},
        )
        assert other.status_code == 403 and other.json()["detail"].startswith("url")
        escape = await client.post(
            "/api/settings/comfyui/proxy", json={"url": comfy.url, "path": "@evil.com/x"}
        )
        assert escape.status_code == 400 and escape.json()["detail"].startswith("path")
        empty = await client.post("/api/comfyui/object_info", json={"url": ""})
        assert empty.status_code == 400
        url = comfy.url

    # The configured ComfyUI has stopped: 503, not a 500.
    down = await client.post("/api/comfyui/object_info", json={"url": url})
    assert down.status_code == 503
    assert "not available" in down.json()["detail"]


async def test_a_hand_edited_comfyui_url_that_is_not_a_url_is_a_400(server: RunningServer) -> None:
    config = server.services.config
    text = config.path.read_text().replace('"http://127.0.0.1:8188"', '"http://[::1"')
    config.path.write_text(text)
    config.load()
    assert config.get("comfyui")["url"] == "http://[::1"

    for route, body in (
        ("/api/comfyui/object_info", {"url": "http://[::1"}),
        ("/api/settings/comfyui/proxy", {"url": "http://[::1", "path": "/system_stats"}),
    ):
        response = await server.client.post(route, json=body)
        assert response.status_code == 400, route
        assert response.json()["detail"].startswith("url"), response.json()
