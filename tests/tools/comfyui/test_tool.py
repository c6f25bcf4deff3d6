"""ComfyUIWorkflowTool on a real Muralist server against the fake ComfyUI: files, canvas, events."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from muralist.tools.base import ToolContext, ToolError
from muralist.tools.comfyui.tool import ComfyUIWorkflowTool, workflow_tools
from muralist.tools.comfyui.workflow import parse_workflow
from tests.fakes.comfyui import FakeComfyUI
from tests.support import RunningServer
from tests.tools.comfyui import graphs


def inputs(*items: tuple[str, str, str, str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "type": t,
            "description": k,
            "node_id": node,
            "node_input_name": k,
            "default_value": d,
            "required": False,
        }
        for n, t, node, k, d in items
    ]


def make_tool(name: str, graph: dict[str, Any], items: list[dict[str, Any]]) -> ComfyUIWorkflowTool:
    row = {
        "id": 1,
        "name": name,
        "description": f"{name} workflow",
        "api_json": json.dumps(graph),
        "inputs": json.dumps(items),
    }
    return ComfyUIWorkflowTool(parse_workflow(row))


SOLID = make_tool(
    "solid",
    graphs.solid(steps=2),
    inputs(("width_1", "number", "1", "width", 32), ("color_1", "number", "1", "color", 0)),
)


class Events:
    """Socket.IO session updates seen by a client that never joined a room (the stock UI)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.generated = asyncio.Event()
        self.sampling = asyncio.Event()

    def handler(self, data: dict[str, Any]) -> None:
        self.items.append(data)
        if data["type"].endswith("_generated"):
            self.generated.set()
        if "Sampler" in str(data.get("update", "")):
            self.sampling.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["type"] == kind]


@pytest.fixture
async def setup(
    sqlite_server: RunningServer, comfy: FakeComfyUI
) -> AsyncIterator[tuple[RunningServer, Events]]:
    await sqlite_server.services.config.update({"comfyui": {"url": comfy.url}})
    events = Events()
    async with sqlite_server.socket() as sio:
        sio.on("session_update", events.handler)
        yield sqlite_server, events


def chat(server: RunningServer, canvas_id: str | None = "cv1") -> ToolContext:
    return ToolContext.for_chat(
        server.services, session_id="s1", canvas_id=canvas_id, tool_call_id="call_1"
    )


async def wait_for_generated(events: Events, count: int) -> None:
    await asyncio.wait_for(events.generated.wait(), 5)
    assert len([e for e in events.items if e["type"].endswith("_generated")]) == count


async def test_run_stores_the_png_places_it_and_reports_progress(
    setup: tuple[RunningServer, Events], comfy: FakeComfyUI
) -> None:
    server, events = setup
    args = SOLID.parse_args('{"width_1": 48, "color_1": 16711680}')
    result = await SOLID.run(args, chat(server))

    [output] = result.media
    assert (
        result.text == f"image generated successfully ![image_id: {output.file_name}]("
        f"/api/file/{output.file_name})"
    )
    picture = Image.open(server.services.files.path(output.file_name))
    assert picture.size == (48, 16) and picture.getpixel((0, 0))[:3] == (255, 0, 0)
    assert json.loads(picture.text["arguments"]) == {"width_1": 48, "color_1": 16711680}
    assert "prompt" not in picture.text  # this workflow has no prompt argument
    assert comfy.prompts[0]["prompt"]["5"]["inputs"]["seed"] != 1  # a fresh random seed

    canvas = await server.services.store.canvases.get("cv1")
    scene = json.loads(canvas["data"]) if isinstance(canvas["data"], str) else canvas["data"]
    [element] = scene["elements"]
    assert (element["width"], element["height"]) == (48, 16)
    assert scene["files"][element["fileId"]]["dataURL"] == f"/api/file/{output.file_name}"

    await wait_for_generated(events, 1)
    [generated] = events.of("image_generated")
    assert generated["canvas_id"] == "cv1" and generated["session_id"] == "s1"
    assert generated["image_url"] == f"/api/file/{output.file_name}"
    progress = [e["update"] for e in events.of("tool_call_progress")]
    assert "Executing Sampler 50%" in progress and progress[-1] == ""
    assert {e["tool_call_id"] for e in events.of("tool_call_progress")} == {"call_1"}


async def test_input_image_file_ids_are_uploaded(
    setup: tuple[RunningServer, Events], comfy: FakeComfyUI
) -> None:
    server, _ = setup
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (10, 20, 30)).save(buffer, format="PNG")
    server.services.files.write("im_abcd1234.png", buffer.getvalue())
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "i"}},
    }
    tool = make_tool(
        "invert",
        graph,
        inputs(
            ("image_1", "string", "1", "image", None),
            ("text_3", "string", "3", "filename_prefix", "i"),
        ),
    )

    args = {"image_1": "/api/file/im_abcd1234.png", "text_3": "inverted"}
    result = await tool.run(tool.parse_args(args), chat(server))
    assert comfy.prompts[0]["prompt"]["1"]["inputs"]["image"] == "muralist/im_abcd1234.png"
    picture = Image.open(server.services.files.path(result.media[0].file_name))
    assert picture.getpixel((0, 0))[:3] == (245, 235, 225)
    assert picture.text["prompt"] == "inverted"  # a text_ input stands for the prompt

    with pytest.raises(ToolError, match="image_1"):
        await tool.run(tool.parse_args({"image_1": "im_missing1.png"}), chat(server))
    assert len(comfy.prompts) == 1  # nothing was queued for the missing picture


async def test_the_run_limit_covers_uploads_too(
    setup: tuple[RunningServer, Events], comfy: FakeComfyUI, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = setup
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    server.services.files.write("im_slow0001.png", buffer.getvalue())
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "s"}},
    }
    tool = make_tool("slowup", graph, inputs(("image_1", "string", "1", "image", None)))
    monkeypatch.setattr(server.services.settings, "comfyui_timeout_s", 0.2)
    comfy.upload_gate.clear()  # ComfyUI never answers the upload
    try:
        with pytest.raises(ToolError, match=r"timed out after 0.2 s"):
            await tool.run(tool.parse_args({"image_1": "im_slow0001.png"}), chat(server))
    finally:
        comfy.upload_gate.set()
    assert comfy.prompts == []  # nothing was queued


async def test_comfyui_failures_are_tool_errors_with_its_message(
    setup: tuple[RunningServer, Events], comfy: FakeComfyUI
) -> None:
    server, _ = setup
    rejected = make_tool("ckpt", graphs.checkpoint(), [])
    with pytest.raises(ToolError, match="Value not in list: ckpt_name"):
        await rejected.run(rejected.parse_args({}), chat(server))

    failing = make_tool(
        "fails", graphs.failing(), inputs(("message_1", "string", "1", "message", "x"))
    )
    with pytest.raises(ToolError, match="FailingNode #1: RuntimeError: disk on fire"):
        await failing.run(failing.parse_args({"message_1": "disk on fire"}), chat(server))
    canvas = await server.services.store.canvases.get("cv1")
    assert canvas is None or not json.loads(canvas["data"] or "{}").get("elements")


async def test_video_outputs_are_stored_as_videos(setup: tuple[RunningServer, Events]) -> None:
    server, events = setup
    graph = graphs.solid()
    graph["9"]["class_type"] = "SaveVideo"
    tool = make_tool("clip", graph, [])
    result = await tool.run(tool.parse_args({}), chat(server))
    [video] = result.media
    assert video.kind == "video" and video.file_name.startswith("vi_")
    assert video.file_name.endswith(".mp4")
    assert f"![video_id: {video.file_name}](/api/file/{video.file_name})" in result.text
    await wait_for_generated(events, 1)
    assert events.of("video_generated")[0]["video_url"] == f"/api/file/{video.file_name}"


async def test_cancelling_the_call_interrupts_our_prompt(
    setup: tuple[RunningServer, Events], comfy: FakeComfyUI
) -> None:
    server, events = setup
    comfy.gate.clear()
    task = asyncio.create_task(SOLID.run(SOLID.parse_args({}), chat(server)))
    await asyncio.wait_for(events.sampling.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(comfy.interrupts) == 1 and comfy.interrupts[0]["prompt_id"]


async def test_no_url_and_bad_rows(sqlite_server: RunningServer) -> None:
    await sqlite_server.services.config.update({"comfyui": {"url": ""}})
    with pytest.raises(ToolError, match="not configured"):
        await SOLID.run(SOLID.parse_args({}), chat(sqlite_server))
    rows = [
        {"id": 1, "name": "good", "api_json": json.dumps(graphs.solid()), "inputs": "[]"},
        {"id": 2, "name": "bad", "api_json": "{broken", "inputs": "[]"},
    ]
    tools = workflow_tools(rows)
    assert [t.id for t in tools] == ["comfyui_good"]
    assert tools[0].info() == {
        "id": "comfyui_good",
        "provider": "comfyui",
        "type": "image",
        "display_name": "good",
    }
    assert tools[0].description == "Run ComfyUI workflow good"
