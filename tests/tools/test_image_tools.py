"""Image tools through a running server: provider fake -> file store -> canvas row -> socket."""

from __future__ import annotations

import asyncio
import re

import pytest

from muralist.media.canvas import live_boxes
from muralist.media.images import png_text
from muralist.tools.base import ToolArgumentsError, ToolError
from tests.fakes.provider_base import Failure, png_bytes
from tests.support import RunningServer
from tests.tools.helpers import Fakes, chat_context, listening, short_timeout

MARKDOWN = re.compile(r"!\[image_id: ([A-Za-z0-9]{10}\.png)\]\(/api/file/\1\)")


async def run_tool(
    server: RunningServer, tool_id: str, arguments: str, canvas_id: str = "canvas1"
) -> object:
    tool = server.services.tools.get(tool_id)
    assert tool is not None, f"{tool_id} is not enabled"
    return await tool.run(tool.parse_args(arguments), chat_context(server, canvas_id))


async def test_chat_call_reaches_file_store_canvas_and_socket(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    async with listening(tool_server) as heard:
        result = await run_tool(
            tool_server,
            "generate_image_by_gpt_image_1_openai",
            '{"prompt": "a fox", "aspect_ratio": "16:9"}',
        )
        await heard.wait_for(lambda h: bool(h.of_type("image_generated")))

    name = MARKDOWN.search(result.text).group(1)  # type: ignore[attr-defined, union-attr]
    stored = tool_server.services.files.path(name).read_bytes()
    assert png_text(stored)["prompt"] == "a fox"
    assert png_text(stored)["model"] == "gpt-image-1"
    assert fakes.openai.requests[-1].json["size"] == "1536x1024"

    canvas = await tool_server.services.store.canvases.get("canvas1")
    assert canvas is not None
    [element] = canvas["data"]["elements"]
    assert (element["width"], element["height"]) == (96, 64)
    assert canvas["data"]["files"][element["id"]]["dataURL"] == f"/api/file/{name}"

    [event] = heard.of_type("image_generated")
    assert event["canvas_id"] == "canvas1" and event["session_id"] == "sess1"
    assert event["element"] == element
    assert event["image_url"] == f"/api/file/{name}"
    progress = heard.of_type("tool_call_progress")
    assert progress and all(p["tool_call_id"] == "call_1" for p in progress)
    assert progress[-1]["update"] == ""


async def test_input_images_go_to_the_edits_endpoint(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    tool_server.services.files.write("im_abcd1234.png", png_bytes(16, 16))
    await run_tool(
        tool_server,
        "generate_image_by_gpt_image_1_openai",
        '{"prompt": "make it blue", "input_images": ["im_abcd1234.png"]}',
    )
    sent = fakes.openai.requests[-1]
    assert sent.path == "/v1/images/edits"
    assert sent.files["image"][0][1] == png_bytes(16, 16)


async def test_missing_input_image_is_a_tool_error(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    with pytest.raises(ToolError, match=r"input_images\[0\]: .*im_nothere1\.png.* not found"):
        await run_tool(
            tool_server,
            "generate_image_by_gpt_image_1_openai",
            '{"prompt": "x", "input_images": ["im_nothere1.png"]}',
        )
    assert fakes.openai.requests == []


async def test_bad_arguments_name_the_field(tool_server: RunningServer) -> None:
    tool = tool_server.services.tools.get("generate_image_by_imagen_4_replicate")
    assert tool is not None
    with pytest.raises(ToolArgumentsError, match="aspect_ratio"):
        tool.parse_args('{"prompt": "x", "aspect_ratio": "2:1"}')
    with pytest.raises(ToolArgumentsError, match="prompt: Field required"):
        tool.parse_args("{}")


async def test_openai_model_from_config_is_a_tool(tool_server: RunningServer, fakes: Fakes) -> None:
    ids = [info["id"] for info in (await tool_server.client.get("/api/list_tools")).json()]
    assert "generate_image_by_dall_e_3_openai" in ids
    assert len(ids) == len(set(ids))
    await run_tool(tool_server, "generate_image_by_dall_e_3_openai", '{"prompt": "x"}')
    assert fakes.openai.requests[-1].json["model"] == "dall-e-3"


@pytest.mark.parametrize(
    ("tool_id", "fake_name", "path"),
    [
        ("generate_image_by_gpt_image_1_jaaz", "jaaz", "/api/v1/image/generations"),
        (
            "generate_image_by_imagen_4_replicate",
            "replicate",
            "/v1/models/google/imagen-4/predictions",
        ),
        ("generate_image_by_doubao_seedream_3_volces", "volces", "/api/v3/images/generations"),
    ],
)
async def test_each_provider_publishes_its_picture(
    tool_server: RunningServer, fakes: Fakes, tool_id: str, fake_name: str, path: str
) -> None:
    result = await run_tool(
        tool_server, tool_id, '{"prompt": "a lighthouse", "aspect_ratio": "4:3"}'
    )
    assert MARKDOWN.search(result.text)  # type: ignore[attr-defined]
    assert getattr(fakes, fake_name).paths("POST")[0] == path
    [output] = result.media  # type: ignore[attr-defined]
    assert tool_server.services.files.exists(output.file_name)


async def test_seededit_sends_the_picture(tool_server: RunningServer, fakes: Fakes) -> None:
    tool_server.services.files.write("im_edit0001.png", png_bytes(12, 12))
    await run_tool(
        tool_server,
        "edit_image_by_doubao_seededit_3_volces",
        '{"prompt": "x", "image": ["im_edit0001.png"]}',
    )
    body = fakes.volces.requests[0].json
    assert body["image"].startswith("data:image/png;base64,")
    assert body["size"] == "adaptive" and body["model"] == "doubao-seededit-3-0-i2i-250628"


async def test_midjourney_places_every_picture(tool_server: RunningServer) -> None:
    result = await run_tool(
        tool_server, "generate_image_by_midjourney_jaaz", '{"prompt": "castle"}'
    )
    assert len(result.media) == 4  # type: ignore[attr-defined]
    canvas = await tool_server.services.store.canvases.get("canvas1")
    assert canvas is not None and len(canvas["data"]["elements"]) == 4


async def test_magic_result_is_placed_at_half_size(tool_server: RunningServer) -> None:
    magic = tool_server.services.tools.get("magic_image_jaaz")
    assert magic is not None
    ids = [info["id"] for info in tool_server.services.tools.infos()]
    assert "magic_image_jaaz" not in ids and "write_plan" not in ids
    result = await magic.run(
        magic.parse_args({"image": "data:image/png;base64,AAAA"}), chat_context(tool_server)
    )
    [output] = result.media
    canvas = await tool_server.services.store.canvases.get("canvas1")
    assert canvas is not None
    [element] = canvas["data"]["elements"]
    assert (element["width"], element["height"]) == (output.width // 2, output.height // 2)


@pytest.mark.parametrize(
    ("tool_id", "fake_name", "message"),
    [
        ("generate_image_by_gpt_image_1_openai", "openai", "HTTP 400: Your request was rejected"),
        (
            "generate_image_by_imagen_4_replicate",
            "replicate",
            "HTTP 400: Your request was rejected",
        ),
        (
            "generate_image_by_doubao_seedream_3_volces",
            "volces",
            "HTTP 400: Your request was rejected",
        ),
        ("generate_image_by_imagen_4_jaaz", "jaaz", "HTTP 400: Your request was rejected"),
    ],
)
async def test_provider_refusal_is_a_tool_error_and_nothing_is_placed(
    tool_server: RunningServer, fakes: Fakes, tool_id: str, fake_name: str, message: str
) -> None:
    getattr(fakes, fake_name).fail = Failure(400, "Your request was rejected by the safety system")
    with pytest.raises(ToolError, match=message):
        await run_tool(tool_server, tool_id, '{"prompt": "x"}')
    assert await tool_server.services.store.canvases.get("canvas1") is None
    assert list(tool_server.services.files.dir.glob("*.png")) == []


async def test_result_url_404_is_a_tool_error(tool_server: RunningServer, fakes: Fakes) -> None:
    fakes.replicate.broken_result = True
    async with listening(tool_server, join={"session_id": "sess1"}) as heard:
        with pytest.raises(ToolError, match="HTTP 404"):
            await run_tool(tool_server, "generate_image_by_imagen_4_replicate", '{"prompt": "x"}')
        await heard.wait_for(lambda h: len(h.of_type("tool_call_progress")) == 2)
    updates = [p["update"] for p in heard.of_type("tool_call_progress")]
    assert updates == ["Imagen 4: generating", ""]  # the pill is hidden again


async def test_unconfigured_provider_disables_its_tools(tool_server: RunningServer) -> None:
    response = await tool_server.client.post("/api/config", json={"replicate": None})
    assert response.status_code == 200
    ids = [info["id"] for info in (await tool_server.client.get("/api/list_tools")).json()]
    assert not any(i.endswith("_replicate") for i in ids)
    assert tool_server.services.tools.get("generate_image_by_imagen_4_replicate") is None


async def test_concurrent_results_on_one_canvas_neither_overlap_nor_get_lost(
    tool_server: RunningServer,
) -> None:
    calls = [
        ("generate_image_by_gpt_image_1_openai", '{"prompt": "one"}'),
        ("generate_video_by_seedance_v1_pro_volces", '{"prompt": "two"}'),
        ("generate_image_by_imagen_4_replicate", '{"prompt": "three"}'),
        ("generate_video_by_seedance_v1_jaaz", '{"prompt": "four"}'),
        ("generate_image_by_gpt_image_1_jaaz", '{"prompt": "five"}'),
        ("generate_image_by_doubao_seedream_3_volces", '{"prompt": "six"}'),
    ]
    async with listening(tool_server, join={"canvas_id": "shared"}) as heard:
        results = await asyncio.gather(
            *(run_tool(tool_server, t, a, canvas_id="shared") for t, a in calls)
        )
        await heard.wait_for(lambda h: len(h.events) >= len(calls))

    canvas = await tool_server.services.store.canvases.get("shared")
    assert canvas is not None
    elements = canvas["data"]["elements"]
    assert len(elements) == len(calls) == len(canvas["data"]["files"])
    assert {e["type"] for e in elements} == {"image", "video"}
    boxes = live_boxes(elements)
    for index, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[index + 1 :])
    placed = {output.element_id for result in results for output in result.media}  # type: ignore[attr-defined]
    assert placed == {e["id"] for e in elements}
    kinds = sorted(data["type"] for _, data in heard.events)
    assert kinds == ["image_generated"] * 4 + ["video_generated"] * 2


async def test_jaaz_timeout_searches_then_is_a_tool_error(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    short_timeout(tool_server)
    fakes.jaaz.stall_s = 2.0
    with pytest.raises(ToolError, match="did not answer in time"):
        await run_tool(
            tool_server, "generate_image_by_imagen_4_jaaz", '{"prompt": "stalled lighthouse"}'
        )
    searches = [r for r in fakes.jaaz.requests if r.path == "/api/v1/task/search"]
    assert len(searches) == 5  # contract 12.3: a lost answer is looked up before giving up
    assert await tool_server.services.store.canvases.get("canvas1") is None


async def test_jaaz_late_answer_is_found_by_task_search(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    short_timeout(tool_server)
    fakes.jaaz.answer_gate.clear()
    try:
        result = await run_tool(
            tool_server, "generate_image_by_imagen_4_jaaz", '{"prompt": "slow harbour"}'
        )
    finally:
        fakes.jaaz.answer_gate.set()
    assert MARKDOWN.search(result.text)  # type: ignore[attr-defined]
    search = fakes.jaaz.requests[-1]
    assert search.path == "/api/v1/task/search"
    assert search.json == {"prompt": "slow harbour", "type": "image"}
    canvas = await tool_server.services.store.canvases.get("canvas1")
    assert canvas is not None and len(canvas["data"]["elements"]) == 1


@pytest.mark.parametrize(
    "tool_id", ["generate_image_by_imagen_4_jaaz", "generate_image_by_midjourney_jaaz"]
)
async def test_jaaz_result_url_404_is_a_tool_error(
    tool_server: RunningServer, fakes: Fakes, tool_id: str
) -> None:
    fakes.jaaz.broken_result = True
    with pytest.raises(ToolError, match="HTTP 404"):
        await run_tool(tool_server, tool_id, '{"prompt": "x"}')
    assert await tool_server.services.store.canvases.get("canvas1") is None
    assert list(tool_server.services.files.dir.glob("*.png")) == []


async def test_midjourney_timeout_is_a_tool_error(tool_server: RunningServer, fakes: Fakes) -> None:
    short_timeout(tool_server)
    fakes.jaaz.stall_s = 2.0
    with pytest.raises(ToolError, match="did not answer in time"):
        await run_tool(tool_server, "generate_image_by_midjourney_jaaz", '{"prompt": "x"}')


async def test_cancelled_replicate_call_cancels_the_running_prediction(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    fakes.replicate.endless = True
    fakes.replicate.wait_scale = 0.1  # wait=60 would hold the create 6 s, past the wait below
    call = asyncio.create_task(
        run_tool(tool_server, "generate_image_by_imagen_4_replicate", '{"prompt": "slow"}')
    )
    await fakes.replicate.wait_for_request(lambda r: r.method == "GET", timeout=3.0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert fakes.replicate.cancelled == [list(fakes.replicate.predictions)[-1]]
    assert await tool_server.services.store.canvases.get("canvas1") is None
