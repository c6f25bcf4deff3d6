"""PromptRun against the fake: progress of our prompt only, errors, timeout and cancel."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from PIL import Image

from muralist.tools.comfyui.client import ComfyUIClient, ComfyUIError
from muralist.tools.comfyui.run import PromptRun, outputs_from_history
from tests.fakes.comfyui import FakeComfyUI
from tests.tools.comfyui import graphs


class Recorder:
    """Collects progress texts; `seen(text)` is an event set once a text containing it came."""

    def __init__(self) -> None:
        self.updates: list[str] = []
        self.percents: list[float | None] = []
        self._waiters: dict[str, asyncio.Event] = {}

    async def __call__(self, text: str, percent: float | None) -> None:
        self.updates.append(text)
        self.percents.append(percent)
        for needle, event in self._waiters.items():
            if needle in text:
                event.set()

    def seen(self, needle: str) -> asyncio.Event:
        return self._waiters.setdefault(needle, asyncio.Event())


async def test_success_reports_node_progress_and_returns_every_saved_output(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    client = ComfyUIClient(comfy.url, http)
    progress = Recorder()
    outputs = await PromptRun(client, graphs.solid(color=0x336699, steps=3), progress).run(10)

    assert comfy.prompts[0]["client_id"] == client.client_id
    assert [(o.node_id, o.filename, o.type, o.kind) for o in outputs] == [
        ("9", "t_00001_.png", "output", "image")
    ]
    data, _ = await client.download(outputs[0])
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (0x33, 0x66, 0x99)
    assert progress.updates[:6] == [
        "Queued on ComfyUI",
        "Executing Blank",
        "Executing Sampler",
        "Executing Sampler 33%",
        "Executing Sampler 67%",
        "Executing Sampler 100%",
    ]
    assert progress.percents[:6] == [None, None, None, 33.0, 67.0, 100.0]
    assert progress.updates[-1] == ""


async def test_execution_error_becomes_comfyui_message(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    progress = Recorder()
    run = PromptRun(ComfyUIClient(comfy.url, http), graphs.failing("out of cheese"), progress)
    with pytest.raises(ComfyUIError) as failed:
        await run.run(10)
    assert str(failed.value) == "ComfyUI failed in FailingNode #1: RuntimeError: out of cheese"
    assert progress.updates[-1] == ""


async def test_rejection_is_raised_before_anything_runs(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    with pytest.raises(ComfyUIError, match="Value not in list"):
        await PromptRun(ComfyUIClient(comfy.url, http), graphs.checkpoint()).run(10)
    assert comfy.history == {}


async def test_timeout_interrupts_our_running_prompt(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    comfy.gate.clear()
    run = PromptRun(ComfyUIClient(comfy.url, http), graphs.solid(steps=2))
    with pytest.raises(ComfyUIError, match="timed out after 0.3 s"):
        await run.run(0.3)
    assert comfy.interrupts == [{"prompt_id": run.prompt_id}]
    assert comfy.deleted == []


async def test_timeout_of_a_pending_prompt_removes_it_and_spares_the_running_one(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    comfy.gate.clear()
    other_progress = Recorder()
    other = PromptRun(ComfyUIClient(comfy.url, http), graphs.solid(steps=2), other_progress)
    other_task = asyncio.create_task(other.run(10))
    await asyncio.wait_for(other_progress.seen("Sampler").wait(), 5)

    ours = PromptRun(ComfyUIClient(comfy.url, http), graphs.solid())
    with pytest.raises(ComfyUIError, match="timed out"):
        await ours.run(0.3)
    assert comfy.deleted == [ours.prompt_id]
    assert comfy.interrupts == []

    comfy.gate.set()
    assert len(await asyncio.wait_for(other_task, 5)) == 1


async def test_cancel_interrupts_ours_and_the_broadcast_does_not_stop_the_next_prompt(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    comfy.gate.clear()
    progress = Recorder()
    first = PromptRun(ComfyUIClient(comfy.url, http), graphs.solid(steps=2), progress)
    first_task = asyncio.create_task(first.run(10))
    await asyncio.wait_for(progress.seen("Sampler").wait(), 5)

    # The second waits in the queue; ComfyUI broadcasts the first one's interruption to it too.
    second_progress = Recorder()
    second = PromptRun(ComfyUIClient(comfy.url, http), graphs.solid(steps=1), second_progress)
    second_task = asyncio.create_task(second.run(10))
    await asyncio.wait_for(comfy.wait_for_prompts(2), 5)

    first_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first_task
    assert comfy.interrupts == [{"prompt_id": first.prompt_id}]
    assert comfy.history[first.prompt_id]["status"]["status_str"] == "error"  # type: ignore[index]
    assert len(await asyncio.wait_for(second_task, 5)) == 1
    assert "Executing Sampler 100%" in second_progress.updates


async def test_interrupt_from_elsewhere_is_a_tool_error(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    comfy.gate.clear()
    progress = Recorder()
    task = asyncio.create_task(
        PromptRun(ComfyUIClient(comfy.url, http), graphs.solid(steps=2), progress).run(10)
    )
    await asyncio.wait_for(progress.seen("Sampler").wait(), 5)
    await http.post(f"{comfy.url}/interrupt", json={})
    with pytest.raises(ComfyUIError, match="interrupted"):
        await asyncio.wait_for(task, 5)


async def test_lost_websocket_falls_back_to_history(
    comfy: FakeComfyUI, http: httpx.AsyncClient
) -> None:
    comfy.drop_sockets_on_queue = True
    outputs = await PromptRun(ComfyUIClient(comfy.url, http), graphs.solid()).run(10)
    assert [o.filename for o in outputs] == ["t_00001_.png"]

    with pytest.raises(ComfyUIError, match="out of cheese"):
        await PromptRun(ComfyUIClient(comfy.url, http), graphs.failing()).run(10)


def test_outputs_prefer_saved_files_and_classify_videos() -> None:
    entry = {
        "outputs": {
            "3": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]},
            "7": {
                "images": [{"filename": "v.mp4", "subfolder": "vid", "type": "output"}],
                "animated": [True],
            },
            "8": {"gifs": [{"filename": "g.webp", "subfolder": "", "type": "output"}]},
        }
    }
    outputs = outputs_from_history(entry)
    assert [(o.filename, o.subfolder, o.kind) for o in outputs] == [
        ("v.mp4", "vid", "video"),
        ("g.webp", "", "image"),
    ]
    only_previews = {"outputs": {"3": entry["outputs"]["3"]}}
    assert [o.type for o in outputs_from_history(only_previews)] == ["temp"]
