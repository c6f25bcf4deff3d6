"""ComfyUIClient against the loopback fake: uploads, queue rejections, history, cancel, /view."""

from __future__ import annotations

import io
import socket

import httpx
import pytest
from PIL import Image

from muralist.tools.comfyui.client import ComfyUIClient, ComfyUIError, OutputFile
from muralist.tools.comfyui.run import PromptRun
from tests.fakes.comfyui import FakeComfyUI
from tests.tools.comfyui import graphs


def png(color: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_upload_returns_the_value_load_image_takes(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    client = ComfyUIClient(comfy.url, http)
    value = await client.upload_image("im_abc.png", png())
    assert value == "muralist/im_abc.png"
    assert comfy.inputs["muralist/im_abc.png"] == png()
    assert comfy.uploads[0]["type"] == "input"

    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": value}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "i"}},
    }
    outputs = await PromptRun(client, graph).run(10)
    data, _ = await client.download(outputs[0])
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (0, 255, 255)


async def test_queue_rejection_carries_comfyui_node_errors(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    client = ComfyUIClient(comfy.url, http)
    with pytest.raises(ComfyUIError) as rejected:
        await client.queue_prompt(graphs.checkpoint())
    message = str(rejected.value)
    assert message.startswith("ComfyUI rejected the workflow: Prompt outputs failed validation")
    assert "CheckpointLoaderSimple #4: Value not in list: ckpt_name: 'sd15.safetensors'" in message

    with pytest.raises(ComfyUIError, match="node NoSuchNode does not exist"):
        await client.queue_prompt({"1": {"class_type": "NoSuchNode", "inputs": {}}})
    with pytest.raises(ComfyUIError, match="Prompt has no outputs"):
        await client.queue_prompt({"1": {"class_type": "EmptyImage", "inputs": {}}})


async def test_queue_prompt_sends_our_client_id_and_history_appears_when_done(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    client = ComfyUIClient(comfy.url, http, client_id="ours")
    comfy.gate.clear()
    prompt_id = await client.queue_prompt(graphs.solid(steps=2))
    assert comfy.prompts[-1]["client_id"] == "ours"
    assert await client.history(prompt_id) is None
    comfy.gate.set()
    await PromptRun(client, graphs.solid()).run(10)  # queued behind ours, so ours is done
    entry = await client.history(prompt_id)
    assert entry is not None and entry["status"]["completed"] is True


async def test_cancel_removes_a_pending_prompt_and_interrupts_only_a_running_one(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    client = ComfyUIClient(comfy.url, http)
    comfy.gate.clear()
    running = await client.queue_prompt(graphs.solid(steps=2))
    pending = await client.queue_prompt(graphs.solid(steps=2))
    running_ids, pending_ids = await client.queue_state()
    assert (running_ids, pending_ids) == ({running}, {pending})

    assert await client.cancel(pending) == "removed"
    assert comfy.deleted == [pending] and comfy.interrupts == []

    assert await client.cancel(running) == "interrupted"
    assert comfy.interrupts == [{"prompt_id": running}]

    assert await client.cancel("never-queued") == "not_queued"
    assert comfy.deleted == [pending] and len(comfy.interrupts) == 1


async def test_download_is_size_limited_and_missing_outputs_fail(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    client = ComfyUIClient(comfy.url, http)
    outputs = await PromptRun(client, graphs.solid(width=256, height=256)).run(10)
    data, content_type = await client.download(outputs[0])
    assert content_type == "image/png" and Image.open(io.BytesIO(data)).size == (256, 256)

    small = ComfyUIClient(comfy.url, http, max_download_bytes=100)
    with pytest.raises(ComfyUIError, match="larger than"):
        await small.download(outputs[0])
    with pytest.raises(ComfyUIError, match="404"):
        await client.download(OutputFile("9", "gone.png", "", "output"))


async def test_unreachable_server_and_bad_urls_are_clear_errors(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ComfyUIClient(f"http://127.0.0.1:{port}", http)
    with pytest.raises(ComfyUIError, match="not reachable"):
        await client.system_stats()
    with pytest.raises(ComfyUIError, match=r"not reachable \(WebSocket"):
        await PromptRun(client, graphs.solid()).run(10)
    with pytest.raises(ComfyUIError, match="http"):
        ComfyUIClient("ftp://example", http)


async def test_websocket_url_keeps_host_and_path_prefix(http: httpx.AsyncClient) -> None:
    client = ComfyUIClient("https://box.local/comfy/", http, client_id="c1")
    assert client.ws_url == "wss://box.local/comfy/ws?clientId=c1"
    assert ComfyUIClient("http://127.0.0.1:8188", http).ws_url.startswith(
        "ws://127.0.0.1:8188/ws?clientId="
    )
