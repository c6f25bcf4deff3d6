"""Video tools through a running server: tasks polled at the fakes, videos stored and placed."""

from __future__ import annotations

import asyncio
import re

import pytest

from muralist.tools.base import ToolArgumentsError, ToolError, ToolResult
from tests.fakes.provider_base import Failure, mp4_bytes, png_bytes
from tests.support import RunningServer
from tests.tools.helpers import Fakes, chat_context, listening, short_timeout

MARKDOWN = re.compile(r"!\[video_id: (vi_[A-Za-z0-9]{8}\.mp4)\]\(/api/file/\1\)")


async def run_tool(server: RunningServer, tool_id: str, arguments: str) -> ToolResult:
    tool = server.services.tools.get(tool_id)
    assert tool is not None, f"{tool_id} is not enabled"
    return await tool.run(tool.parse_args(arguments), chat_context(server))


async def test_seedance_video_is_stored_as_is_with_its_size(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    fakes.volces.video_size = (854, 480)
    async with listening(tool_server) as heard:
        result = await run_tool(
            tool_server, "generate_video_by_seedance_v1_pro_volces", '{"prompt": "surf"}'
        )
        await heard.wait_for(lambda h: bool(h.of_type("video_generated")))

    name = MARKDOWN.search(result.text).group(1)  # type: ignore[union-attr]
    assert tool_server.services.files.path(name).read_bytes() == mp4_bytes(854, 480)
    [event] = heard.of_type("video_generated")
    assert event["video_url"] == f"/api/file/{name}"
    assert event["element"]["type"] == "video"
    assert (event["element"]["width"], event["element"]["height"]) == (854, 480)
    assert event["file"]["mimeType"] == "video/mp4"
    text = fakes.volces.requests[0].json["content"][0]["text"]
    assert text == "surf --resolution 480p --dur 5 --camerafixed true --wm false --rt 16:9"


async def test_two_input_images_become_first_and_last_frame(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    for name in ("im_first001.png", "im_last0001.png"):
        tool_server.services.files.write(name, png_bytes(8, 8))
    await run_tool(
        tool_server,
        "generate_video_by_seedance_v1_lite_i2v_volces",
        '{"prompt": "morph", "input_images": ["im_first001.png", "/api/file/im_last0001.png"]}',
    )
    content = fakes.volces.requests[0].json["content"]
    assert [item.get("role") for item in content[1:]] == ["first_frame", "last_frame"]
    assert "--rt" not in content[0]["text"]


async def test_i2v_without_images_is_an_argument_error(tool_server: RunningServer) -> None:
    tool = tool_server.services.tools.get("generate_video_by_seedance_v1_lite_i2v_volces")
    assert tool is not None
    with pytest.raises(ToolArgumentsError, match="input_images"):
        tool.parse_args('{"prompt": "x"}')


async def test_jaaz_video_models_use_their_cloud_calls(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    tool_server.services.files.write("im_kling001.png", png_bytes(8, 8))
    await run_tool(tool_server, "generate_video_by_seedance_v1_jaaz", '{"prompt": "a"}')
    await run_tool(
        tool_server,
        "generate_video_by_kling_v2_jaaz",
        '{"prompt": "b", "input_images": ["im_kling001.png"]}',
    )
    creates = [r for r in fakes.jaaz.requests if r.method == "POST"]
    assert [r.path for r in creates] == [
        "/api/v1/video/seedance/generation",
        "/api/v1/video/sunra/generations",
    ]
    assert (
        creates[0].json["model"] == "seedance-1.0-pro" and creates[0].json["camera_fixed"] is True
    )
    assert creates[1].json["model"] == "kling-v2.1-standard"
    assert creates[1].json["input_images"][0].startswith("data:image/png;base64,")


async def test_veo3_needs_confirmation(tool_server: RunningServer) -> None:
    tool = tool_server.services.tools.get("generate_video_by_veo3_fast_jaaz")
    assert tool is not None and tool.needs_confirmation
    assert tool.type == "video"


async def test_failed_task_is_a_tool_error(tool_server: RunningServer, fakes: Fakes) -> None:
    fakes.jaaz.outcome = "failed"
    with pytest.raises(ToolError, match="content policy violation"):
        await run_tool(tool_server, "generate_video_by_hailuo_02_jaaz", '{"prompt": "x"}')


async def test_endless_poll_ends_with_a_tool_error(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    fakes.volces.endless = True
    with pytest.raises(ToolError, match="not ready after 200 checks"):
        await run_tool(tool_server, "generate_video_by_seedance_v1_pro_volces", '{"prompt": "x"}')
    assert fakes.volces.cancelled == [list(fakes.volces.tasks)[-1]]


async def test_server_error_on_create(tool_server: RunningServer, fakes: Fakes) -> None:
    fakes.jaaz.fail = Failure(503, "upstream busy")
    with pytest.raises(ToolError, match="HTTP 503: upstream busy"):
        await run_tool(tool_server, "generate_video_by_veo3_fast_jaaz", '{"prompt": "x"}')


async def test_cancelled_call_cancels_the_provider_task(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    fakes.volces.endless = True
    call = asyncio.create_task(
        run_tool(tool_server, "generate_video_by_seedance_v1_lite_volces_t2v", '{"prompt": "x"}')
    )
    await fakes.volces.wait_for_request(lambda r: r.method == "GET")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert fakes.volces.cancelled == [list(fakes.volces.tasks)[-1]]
    assert await tool_server.services.store.canvases.get("canvas1") is None


async def test_polls_that_keep_failing_end_the_call_and_delete_the_task(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    fakes.volces.fail_polls = 100
    with pytest.raises(ToolError, match="HTTP 502: Bad gateway"):
        await run_tool(tool_server, "generate_video_by_seedance_v1_pro_volces", '{"prompt": "x"}')
    assert fakes.volces.cancelled == [list(fakes.volces.tasks)[-1]]


async def test_jaaz_video_timeout_is_a_tool_error(tool_server: RunningServer, fakes: Fakes) -> None:
    short_timeout(tool_server)
    fakes.jaaz.stall_s = 2.0
    with pytest.raises(ToolError, match="did not answer in time"):
        await run_tool(tool_server, "generate_video_by_hailuo_02_jaaz", '{"prompt": "x"}')


async def test_volces_video_result_404_is_a_tool_error(
    tool_server: RunningServer, fakes: Fakes
) -> None:
    fakes.volces.broken_result = True
    with pytest.raises(ToolError, match="HTTP 404"):
        await run_tool(tool_server, "generate_video_by_seedance_v1_pro_volces", '{"prompt": "x"}')
    assert await tool_server.services.store.canvases.get("canvas1") is None
    assert list(tool_server.services.files.dir.glob("*.mp4")) == []
