"""Tasks survive a restart: running ones are failed (paid tools) or re-queued (safe to retry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from muralist.ids import new_id
from tests.fakes.comfyui import FakeComfyUI
from tests.support import RunningServer
from tests.tools.comfyui.graphs import solid
from tests.tools.helpers import Fakes, all_fakes, configured_server, wait_task

PAID_TOOL = "generate_image_by_imagen_4_replicate"


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with all_fakes() as started:
        yield started


async def leave_row(server: RunningServer, status: str, tool: str, provider: str) -> str:
    """Write a task row the way a crashed process leaves it (no queue knows about it)."""
    task_id = new_id(16)
    args = {"prompt": "left behind"} if provider != "comfyui" else {}
    await server.services.store.tasks.create(
        task_id,
        type="image",
        status=status,
        tool=tool,
        provider=provider,
        params={"args": args, "quantity": 1},
        attempts=1 if status == "running" else 0,
    )
    return task_id


async def add_workflow(server: RunningServer, comfy_url: str) -> str:
    response = await server.client.post(
        "/api/config", json={"comfyui": {"url": comfy_url, "api_key": ""}}
    )
    assert response.status_code == 200
    await server.services.store.workflows.create("solid", solid(), "a plain picture", [])
    await server.services.tools.rebuild()
    tool = server.services.tools.get("comfyui_solid")
    assert tool is not None and tool.retry_safe
    return tool.id


async def test_restart_fails_paid_running_tasks_and_resumes_the_rest(
    tmp_path: Path, fakes: Fakes, database_url: str
) -> None:
    async with FakeComfyUI() as comfy:
        async with configured_server(tmp_path, fakes, database_url=database_url) as first:
            comfy_tool = await add_workflow(first, comfy.url)
            paid = await leave_row(first, "running", PAID_TOOL, "replicate")
            queued = await leave_row(first, "queued", PAID_TOOL, "replicate")
            safe = await leave_row(first, "running", comfy_tool, "comfyui")
            assert fakes.replicate.requests == []

        async with configured_server(tmp_path, fakes, database_url=database_url) as second:
            failed = await wait_task(second, paid)
            assert failed["status"] == "failed"
            assert "server stopped while this task was running" in failed["error"]
            assert "not retried" in failed["error"]

            resumed = await wait_task(second, queued)
            assert resumed["status"] == "succeeded"

            retried = await wait_task(second, safe)
            assert retried["status"] == "succeeded", retried["error"]
            row = await second.services.store.tasks.get(safe)
            assert row is not None and row["attempts"] == 2
            assert len(comfy.prompts) == 1


async def test_shutdown_during_a_run_fails_the_paid_task(tmp_path: Path, fakes: Fakes) -> None:
    async with configured_server(tmp_path, fakes) as first:
        fakes.volces.endless = True
        response = await first.client.post(
            "/api/v1/video",
            json={"prompt": "x", "tool": "generate_video_by_seedance_v1_pro_volces"},
        )
        task_id = response.json()["task_id"]
        await fakes.volces.wait_for_request(lambda r: r.method == "GET")
    assert fakes.volces.cancelled == [list(fakes.volces.tasks)[-1]], "cancelled at shutdown"

    async with configured_server(tmp_path, fakes) as second:
        task = await wait_task(second, task_id)
        assert task["status"] == "failed"
        assert "server stopped" in task["error"]
