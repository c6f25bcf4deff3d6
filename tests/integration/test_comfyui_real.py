"""A real ComfyUI (built by scripts/comfyui-env) behind a running Muralist server.

A workflow of utility nodes (EmptyImage -> SaveImage, no model weights needed) is saved through
the settings API, shows up in /api/list_tools, and is called by the creator agent in a chat turn
driven by the fake language model; its PNG must land in the file store and on the canvas.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from muralist.tools.base import ToolContext, ToolError
from tests.fakes.openai_chat import FakeOpenAIChat, tool
from tests.integration.real_comfyui import RealComfyUI, real_comfyui, require_comfyui
from tests.support import RunningServer

pytestmark = pytest.mark.slow

SOLID_FILL = {
    "name": "solid_fill",
    "description": "Make a picture of one solid colour.",
    # API format as ComfyUI's "Export (API)" writes it, with the editor's titles.
    "api_json": {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 1, "color": 0},
            "_meta": {"title": "EmptyImage"},
        },
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": "muralist"},
            "_meta": {"title": "Save Image"},
        },
    },
    # What the UI's workflow dialog sends: <inputKey>_<nodeId> names with their defaults.
    "inputs": [
        {"name": "width_1", "type": "number", "description": "Width in pixels",
         "node_id": "1", "node_input_name": "width", "default_value": 512, "required": True},
        {"name": "height_1", "type": "number", "description": "Height in pixels",
         "node_id": "1", "node_input_name": "height", "default_value": 512, "required": True},
        {"name": "color_1", "type": "number", "description": "Colour as 0xRRGGBB",
         "node_id": "1", "node_input_name": "color", "default_value": 0, "required": False},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealComfyUI]:
    folder = require_comfyui()
    with real_comfyui(folder, tmp_path_factory.mktemp("comfyui")) as server:
        yield server


async def save_workflow(server: RunningServer, comfyui: RealComfyUI, body: dict) -> None:
    await server.services.config.update({"comfyui": {"url": comfyui.url}})
    response = await server.client.post("/api/settings/comfyui/create_workflow", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}


async def test_creator_agent_runs_a_saved_workflow_on_real_comfyui(
    sqlite_server: RunningServer, comfyui: RealComfyUI, llm: FakeOpenAIChat
) -> None:
    server = sqlite_server
    await save_workflow(server, comfyui, SOLID_FILL)
    tools = (await server.client.get("/api/list_tools")).json()
    info = {"id": "comfyui_solid_fill", "provider": "comfyui", "type": "image",
            "display_name": "solid_fill"}  # fmt: skip
    assert info in tools

    await server.services.config.update(
        {"fake": {"url": llm.base_url, "api_key": "sk-test", "models": {"m1": {"type": "text"}}}}
    )
    arguments = json.dumps({"width_1": 96, "height_1": 64, "color_1": 0xFF8000})
    llm.script(
        tool("transfer_to_image_video_creator", "{}"),
        tool("comfyui_solid_fill", arguments, id="call_comfy"),
        "Here is your orange picture.",
    )
    events: list[dict[str, Any]] = []
    done = asyncio.Event()

    def on_update(data: dict[str, Any]) -> None:
        events.append(data)
        if data["type"] == "done":
            done.set()

    async with server.socket() as sio:
        sio.on("session_update", on_update)
        # The home page's prompt box: create the canvas and start its first chat turn.
        body = {
            "name": "Swatches",
            "canvas_id": "canvas_comfy",
            "messages": [{"role": "user", "content": "An orange 96x64 swatch, please."}],
            "session_id": "sess_comfy",
            "text_model": {"provider": "fake", "model": "m1", "url": llm.base_url},
            "tool_list": [info],
        }
        response = await server.client.post("/api/canvas/create", json=body)
        assert response.status_code == 200, response.text
        await asyncio.wait_for(done.wait(), 120)

    errors = [e for e in events if e["type"] == "error"]
    assert errors == []
    [generated] = [e for e in events if e["type"] == "image_generated"]
    assert generated["canvas_id"] == "canvas_comfy"
    file_name = generated["image_url"].rsplit("/", 1)[-1]

    # The PNG is in the file store, with ComfyUI's pixels.
    picture = Image.open(server.services.files.path(file_name))
    assert picture.format == "PNG" and picture.size == (96, 64)
    assert picture.convert("RGB").getpixel((10, 10)) == (0xFF, 0x80, 0x00)

    # ... and on the stored canvas, pointing at that file.
    response = await server.client.get("/api/canvas/canvas_comfy")
    scene = response.json()["data"]
    [element] = [e for e in scene["elements"] if e["type"] == "image"]
    assert (element["width"], element["height"]) == (96, 64)
    assert scene["files"][element["fileId"]]["dataURL"] == f"/api/file/{file_name}"

    # The model saw typed arguments, and got the markdown result back.
    creator_request = llm.requests[1].body
    [definition] = [
        t["function"] for t in creator_request["tools"]
        if t["function"]["name"] == "comfyui_solid_fill"
    ]  # fmt: skip
    assert definition["parameters"]["properties"]["width_1"]["type"] == "integer"
    assert set(definition["parameters"]["required"]) == {"width_1", "height_1"}
    results = [e for e in events if e["type"] == "tool_call_result" and e["id"] == "call_comfy"]
    assert f"![image_id: {file_name}](/api/file/{file_name})" in results[0]["message"]["content"]
    progress = [e for e in events if e["type"] == "tool_call_progress"]
    assert any(e["update"].startswith("Executing") for e in progress)


async def test_uploaded_input_and_rejection_on_real_comfyui(
    sqlite_server: RunningServer, comfyui: RealComfyUI
) -> None:
    server = sqlite_server
    invert = {
        "name": "invert",
        "description": "Invert a picture's colours.",
        "api_json": {
            "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0],
                                                         "filename_prefix": "inv"}},
        },
        "inputs": [{"name": "image_1", "type": "string", "description": "Picture",
                    "node_id": "1", "node_input_name": "image", "required": True}],
    }  # fmt: skip
    await save_workflow(server, comfyui, invert)
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), (10, 20, 30)).save(buffer, format="JPEG", quality=100)
    server.services.files.write("im_input01.jpg", buffer.getvalue())

    invert_tool = server.services.tools.get("comfyui_invert")
    assert invert_tool is not None
    ctx = ToolContext(server.services, session_id="s", canvas_id="cv", tool_call_id="c")
    result = await invert_tool.run(invert_tool.parse_args({"image_1": "im_input01.jpg"}), ctx)
    picture = Image.open(server.services.files.path(result.media[0].file_name)).convert("RGB")
    assert picture.size == (12, 8)
    assert all(
        abs(a - b) <= 3 for a, b in zip(picture.getpixel((4, 4)), (245, 235, 225), strict=True)
    )
    assert (comfyui.output_dir.parent / "input" / "muralist" / "im_input01.jpg").is_file()

    # A model that is not installed: ComfyUI refuses the prompt and says why.
    checkpoint = {
        "name": "needs_model",
        "description": "Load a checkpoint.",
        "api_json": {
            "4": {"class_type": "CheckpointLoaderSimple",
                  "inputs": {"ckpt_name": "sd15.safetensors"}},
            "8": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["4", 2]}},
            "5": {"class_type": "EmptyLatentImage",
                  "inputs": {"width": 64, "height": 64, "batch_size": 1}},
            "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0],
                                                         "filename_prefix": "x"}},
        },
        "inputs": [{"name": "ckpt_name_4", "type": "string", "description": "Checkpoint",
                    "node_id": "4", "node_input_name": "ckpt_name",
                    "default_value": "sd15.safetensors"}],
    }  # fmt: skip
    await save_workflow(server, comfyui, checkpoint)
    needs_model = server.services.tools.get("comfyui_needs_model")
    assert needs_model is not None
    with pytest.raises(ToolError) as refused:
        await needs_model.run(needs_model.parse_args({}), ctx)
    message = str(refused.value)
    assert "Prompt outputs failed validation" in message
    assert "CheckpointLoaderSimple #4: Value not in list: ckpt_name: 'sd15.safetensors'" in message
