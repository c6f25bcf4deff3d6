"""The V1 task API over HTTP and Socket.IO, against the provider fakes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.provider_base import Failure, png_bytes
from tests.support import RunningServer
from tests.tools.helpers import Fakes, all_fakes, configured_server, listening, wait_task

ALL_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with all_fakes() as started:
        yield started


@pytest.fixture
async def server(tmp_path: Path, fakes: Fakes, database_url: str) -> AsyncIterator[RunningServer]:
    """A server on SQLite and on PostgreSQL (the `database_url` fixture of tests/conftest.py)."""
    async with configured_server(tmp_path, fakes, database_url=database_url) as running:
        yield running


async def stored_tasks(server: RunningServer) -> list[dict[str, Any]]:
    return await server.services.store.tasks.list_by_status(*ALL_STATUSES)


async def create(server: RunningServer, kind: str, body: dict[str, Any]) -> str:
    response = await server.client.post(f"/api/v1/{kind}", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["task_id"])


async def test_image_task_runs_to_success_on_the_canvas(
    server: RunningServer, fakes: Fakes
) -> None:
    task_id = await create(
        server,
        "image",
        {
            "prompt": "a fox",
            "tool": "generate_image_by_imagen_4_replicate",
            "canvas_id": "c1",
            "quantity": 2,
        },
    )
    task = await wait_task(server, task_id)

    assert task["status"] == "succeeded" and task["progress"] == 100 and task["error"] is None
    assert task["type"] == "image" and task["tool"] == "generate_image_by_imagen_4_replicate"
    assert len(task["results"]) == 2
    assert task["result_url"] == task["results"][0]["url"]
    for result in task["results"]:
        assert server.services.files.exists(result["file_id"])
        assert (await server.client.get(result["url"])).status_code == 200
    canvas = await server.services.store.canvases.get("c1")
    assert canvas is not None
    assert {e["id"] for e in canvas["data"]["elements"]} == {
        r["element_id"] for r in task["results"]
    }
    assert len(fakes.replicate.paths("POST")) == 2


async def test_default_tool_is_the_first_configured_one(server: RunningServer) -> None:
    task_id = await create(server, "image", {"prompt": "x"})
    task = await wait_task(server, task_id)
    assert task["tool"] == server.services.tools.first_of_type("image").id  # type: ignore[union-attr]
    assert task["status"] == "succeeded"


async def test_task_updates_reach_the_task_room(server: RunningServer, fakes: Fakes) -> None:
    fakes.volces.gate.clear()
    task_id = await create(
        server, "video", {"prompt": "waves", "tool": "generate_video_by_seedance_v1_pro_volces"}
    )
    async with listening(server, join={"task_id": task_id}) as heard:
        fakes.volces.gate.set()
        await heard.wait_for(
            lambda h: any(e["status"] == "succeeded" for e in h.of_type("task_update"))
        )
    updates = heard.of_type("task_update")
    assert all(u["task_id"] == task_id and u["task_type"] == "video" for u in updates)
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[-1] == 100
    assert any(
        0 < p < 100 and u["status"] == "running" for p, u in zip(progress, updates, strict=True)
    )
    assert updates[-1]["results"][0]["type"] == "video"
    assert [name for name, _ in heard.events] == ["message"] * len(heard.events)


async def test_video_options_reach_the_tool(server: RunningServer, fakes: Fakes) -> None:
    task_id = await create(
        server,
        "video",
        {
            "prompt": "a drone shot",
            "tool": "generate_video_by_seedance_v1_pro_volces",
            "aspect_ratio": "21:9",
            "options": {"duration": 10, "resolution": "1080p"},
        },
    )
    assert (await wait_task(server, task_id))["status"] == "succeeded"
    text = fakes.volces.requests[0].json["content"][0]["text"]
    assert "--dur 10" in text and "--resolution 1080p" in text and "--rt 21:9" in text


async def test_input_images_are_checked_and_sent(server: RunningServer, fakes: Fakes) -> None:
    server.services.files.write("im_input001.png", png_bytes(8, 8))
    body = {
        "prompt": "edit",
        "tool": "generate_image_by_gpt_image_1_openai",
        "input_images": ["im_input001.png"],
    }
    task = await wait_task(server, await create(server, "image", body))
    assert task["status"] == "succeeded"
    assert fakes.openai.requests[-1].path == "/v1/images/edits"


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("image", {"prompt": "x", "tool": "no_such_tool"}, "tool"),
        ("image", {"prompt": "x", "tool": "generate_video_by_seedance_v1_pro_volces"}, "tool"),
        ("video", {"prompt": "x", "tool": "generate_image_by_imagen_4_replicate"}, "tool"),
        ("image", {"prompt": "x", "tool": "magic_image_jaaz"}, "tool"),
        ("image", {"prompt": "x", "input_images": ["im_missing1.png"]}, "input_images[0]"),
        ("image", {"prompt": "x", "input_images": ["../config.toml"]}, "input_images[0]"),
        (
            "image",
            {"prompt": "x", "tool": "generate_image_by_imagen_4_replicate", "aspect_ratio": "2:1"},
            "aspect_ratio",
        ),
        (
            "image",
            {
                "prompt": "x",
                "tool": "generate_image_by_imagen_4_replicate",
                "input_images": ["a.png"],
            },
            "input_images",
        ),
        (
            "image",
            {"prompt": "x", "tool": "generate_image_by_midjourney_jaaz", "aspect_ratio": "1:1"},
            "aspect_ratio",
        ),
        ("video", {"prompt": "x", "tool": "generate_video_by_kling_v2_jaaz"}, "input_images"),
        (
            "video",
            {
                "prompt": "x",
                "tool": "generate_video_by_seedance_v1_jaaz",
                "options": {"duration": 7},
            },
            "duration",
        ),
        ("magic", {"image": "data:image/png;base64,@@@"}, "image"),
        ("magic", {"image": "im_missing1.png"}, "image"),
    ],
)
async def test_a_body_that_cannot_run_is_refused_before_storing(
    server: RunningServer, kind: str, body: dict[str, Any], field: str
) -> None:
    response = await server.client.post(f"/api/v1/{kind}", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert await stored_tasks(server) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "quantity": 0}, "quantity"),
        ({"prompt": "x", "quantity": 11}, "quantity"),
        ({"prompt": "x", "canvas_id": "../etc"}, "canvas_id"),
        ({"prompt": "x", "colour": "red"}, "colour"),
    ],
)
async def test_malformed_bodies_name_the_field(
    server: RunningServer, body: dict[str, Any], field: str
) -> None:
    response = await server.client.post("/api/v1/image", json=body)
    assert 400 <= response.status_code < 500
    assert field in response.text
    assert await stored_tasks(server) == []


async def test_no_configured_provider_is_a_4xx(tmp_path: Path, fakes: Fakes) -> None:
    async with configured_server(tmp_path, fakes) as running:
        await running.client.post(
            "/api/config", json={"openai": None, "replicate": None, "volces": None, "jaaz": None}
        )
        for kind, body in (
            ("image", {"prompt": "x"}),
            ("video", {"prompt": "x"}),
            ("magic", {"image": "im_a1234567.png"}),
        ):
            response = await running.client.post(f"/api/v1/{kind}", json=body)
            assert response.status_code == 400, response.text
        assert (
            "no image tool is configured"
            in (await running.client.post("/api/v1/image", json={"prompt": "x"})).text
        )
        assert await stored_tasks(running) == []


async def test_provider_failure_fails_the_task_with_its_message(
    server: RunningServer, fakes: Fakes
) -> None:
    fakes.jaaz.fail = Failure(402, "Insufficient balance")
    task_id = await create(
        server, "image", {"prompt": "x", "tool": "generate_image_by_imagen_4_jaaz"}
    )
    task = await wait_task(server, task_id)
    assert task["status"] == "failed"
    assert "HTTP 402: Insufficient balance" in task["error"]
    assert task["progress"] < 100 and task["results"] == [] and task["result_url"] is None


async def test_cancel_a_running_task_reaches_the_provider(
    server: RunningServer, fakes: Fakes
) -> None:
    fakes.volces.endless = True
    task_id = await create(
        server, "video", {"prompt": "x", "tool": "generate_video_by_seedance_v1_pro_volces"}
    )
    await fakes.volces.wait_for_request(lambda r: r.method == "GET")

    response = await server.client.post(f"/api/v1/task/{task_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    await fakes.volces.wait_for_request(lambda r: r.method == "DELETE")
    assert (await wait_task(server, task_id))["status"] == "cancelled"

    again = await server.client.post(f"/api/v1/task/{task_id}/cancel")
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["detail"]
    assert (await server.client.post("/api/v1/task/nope/cancel")).status_code == 404


async def test_cancel_a_queued_task_means_it_never_runs(
    server: RunningServer, fakes: Fakes
) -> None:
    fakes.replicate.endless = True
    body = {"prompt": "x", "tool": "generate_image_by_imagen_4_replicate"}
    busy = [await create(server, "image", body) for _ in range(4)]  # every slot of the provider
    waiting = await create(server, "image", body)
    for task_id in busy:
        await wait_task(server, task_id, ("running",))
    response = await server.client.post(f"/api/v1/task/{waiting}/cancel")
    assert response.json()["status"] == "cancelled"
    for task_id in busy:
        assert (await server.client.post(f"/api/v1/task/{task_id}/cancel")).status_code == 200
    finished = await server.client.get(f"/api/v1/task/search?task_ids={','.join(busy)}")
    assert {t["status"] for t in finished.json()["tasks"]} == {"cancelled"}
    creates = [p for p in fakes.replicate.paths("POST") if p.endswith("/predictions")]
    assert len(creates) == 4


async def test_search_keeps_order_and_leaves_unknown_ids_out(server: RunningServer) -> None:
    body = {"prompt": "x", "tool": "generate_image_by_imagen_4_replicate"}
    first, second = await create(server, "image", body), await create(server, "image", body)
    response = await server.client.get(f"/api/v1/task/search?task_ids={second},unknown,{first}")
    assert [t["task_id"] for t in response.json()["tasks"]] == [second, first]
    single = await server.client.get(f"/api/v1/task/search?task_id={first}")
    assert [t["task_id"] for t in single.json()["tasks"]] == [first]


async def test_search_limits(server: RunningServer) -> None:
    too_many = ",".join(f"id{i}" for i in range(101))
    response = await server.client.get(f"/api/v1/task/search?task_ids={too_many}")
    assert response.status_code == 400 and "at most 100" in response.json()["detail"]
    assert (await server.client.get("/api/v1/task/search")).status_code == 400
    hundred = ",".join(f"id{i}" for i in range(100))
    assert (await server.client.get(f"/api/v1/task/search?task_ids={hundred}")).json() == {
        "tasks": []
    }


async def test_status_of_unknown_task_is_404(server: RunningServer) -> None:
    response = await server.client.get("/api/v1/video/status/nope")
    assert response.status_code == 404 and "nope" in response.json()["detail"]


async def test_magic_task_from_a_data_url(server: RunningServer, fakes: Fakes) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes(20, 10)).decode()
    task_id = await create(server, "magic", {"image": data_url, "canvas_id": "m1"})
    task = await wait_task(server, task_id)
    assert task["status"] == "succeeded" and task["type"] == "magic"
    sent = [r for r in fakes.jaaz.requests if r.path == "/api/v1/image/magic"][0]
    assert sent.json["image"] == data_url
    canvas = await server.services.store.canvases.get("m1")
    assert canvas is not None
    [element] = canvas["data"]["elements"]
    assert element["width"] == task["results"][0]["width"] // 2


async def test_json_content_type_is_required(server: RunningServer) -> None:
    response = await server.client.post(
        "/api/v1/image", content=b'{"prompt": "x"}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert await stored_tasks(server) == []
