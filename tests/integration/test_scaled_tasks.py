"""Scaled mode end to end: servers and task workers on one PostgreSQL and one Redis.

Servers here leave tasks to the workers (MURALIST_RUN_TASKS=false), so a task that succeeds
ran in a worker; the data directory (config.toml, files/) is shared, as in a deployment.
The killed worker of the last test is a real `muralist worker` process ended with SIGKILL,
so it writes nothing on its way out: only lapsed heartbeats tell the others it is gone.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from muralist.settings import ServerSettings
from muralist.tasks.service import ABANDONED_REASON
from muralist.tasks.worker import RunningWorker, task_worker
from muralist.tools.tuning import EXTRAS_KEY
from tests.fakes.comfyui import FakeComfyUI
from tests.support import (
    REDIS_URL,
    RunningServer,
    make_settings,
    postgres_database,
    require_services,
    running_server,
)
from tests.tools.comfyui.graphs import solid
from tests.tools.helpers import FAST, Fakes, all_fakes, listening, provider_config, wait_task

PAID_TOOL = "generate_image_by_imagen_4_replicate"
HEARTBEAT_S = 3.0
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with all_fakes() as started:
        yield started


@dataclass
class Cluster:
    """What the processes of one deployment share: database, Redis prefix, data directory."""

    database_url: str
    prefix: str
    data_dir: Path
    fakes: Fakes

    def settings(self, **overrides: Any) -> ServerSettings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "redis_url": REDIS_URL,
            "redis_prefix": self.prefix,
            "jaaz_base_url": self.fakes.jaaz.origin,
            "run_tasks": False,
            "task_heartbeat_s": HEARTBEAT_S,
            **overrides,
        }
        return make_settings(self.data_dir, **values)

    def env(self) -> dict[str, str]:
        """The same settings as MURALIST_* variables, for a worker process."""
        return {
            "MURALIST_DATABASE_URL": self.database_url,
            "MURALIST_REDIS_URL": REDIS_URL,
            "MURALIST_REDIS_PREFIX": self.prefix,
            "MURALIST_JAAZ_BASE_URL": self.fakes.jaaz.origin,
            "MURALIST_TASK_HEARTBEAT_S": str(HEARTBEAT_S),
        }

    @asynccontextmanager
    async def server(self, **overrides: Any) -> AsyncIterator[RunningServer]:
        async with running_server(self.settings(**overrides)) as running:
            running.services.extras[EXTRAS_KEY] = FAST
            yield running

    @asynccontextmanager
    async def worker(self, **options: Any) -> AsyncIterator[RunningWorker]:
        async with task_worker(self.settings(), **options) as running:
            running.services.extras[EXTRAS_KEY] = FAST
            yield running


@pytest.fixture
async def cluster(tmp_path: Path, fakes: Fakes, redis_prefix: str) -> AsyncIterator[Cluster]:
    require_services(postgres=True, redis=True)
    fakes.reset()
    async with postgres_database() as url:
        yield Cluster(url, redis_prefix, tmp_path / "data", fakes)


async def configure(server: RunningServer, fakes: Fakes) -> None:
    response = await server.client.post("/api/config", json=provider_config(fakes))
    assert response.status_code == 200, response.text


async def create(server: RunningServer, body: dict[str, Any], kind: str = "image") -> str:
    response = await server.client.post(f"/api/v1/{kind}", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


async def status(server: RunningServer, task_id: str) -> dict[str, Any]:
    response = await server.client.get(f"/api/v1/video/status/{task_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def ran_in(probe: RunningWorker, provider: str, task_id: str, owner: str = "") -> bool:
    """Whether the SAQ job of the task names a consumer of the worker `owner` (default: the
    probe itself), read through the probe's queue."""
    job = await probe.queue.queue(provider).job(probe.queue.job_key(task_id))
    return job is not None and (job.worker_id or "").startswith((owner or probe.queue.owner) + ".")


def creates(fakes: Fakes) -> int:
    return len([p for p in fakes.replicate.paths("POST") if p.endswith("/predictions")])


async def test_a_task_made_on_one_server_runs_in_a_worker_and_reaches_another(
    cluster: Cluster,
) -> None:
    fakes = cluster.fakes
    # The worker starts before the providers are configured: it reads config.toml again
    # when a server changed it.
    async with cluster.worker() as worker, cluster.server() as a, cluster.server() as b:
        await configure(a, fakes)
        fakes.replicate.gate.clear()
        task_id = await create(a, {"prompt": "a fox", "tool": PAID_TOOL, "canvas_id": "c1"})
        async with listening(b, join={"task_id": task_id}) as heard, listening(b) as stock:
            await fakes.replicate.wait_for_request(lambda r: r.method == "POST")
            fakes.replicate.gate.set()
            await heard.wait_for(
                lambda h: any(u["status"] == "succeeded" for u in h.of_type("task_update"))
            )
            await stock.wait_for(lambda h: bool(h.of_type("image_generated")))
        statuses = [u["status"] for u in heard.of_type("task_update")]
        assert statuses[-1] == "succeeded" and set(statuses) <= {"running", "succeeded"}
        [picture] = stock.of_type("image_generated")
        assert picture["session_id"] == f"task_{task_id}" and picture["canvas_id"] == "c1"

        task = await status(b, task_id)  # polled from B
        assert task["status"] == "succeeded" and task["progress"] == 100
        assert (await b.client.get(task["result_url"])).status_code == 200
        canvas = (await b.client.get("/api/canvas/c1")).json()
        assert [e["id"] for e in canvas["data"]["elements"]] == [task["results"][0]["element_id"]]
        assert await ran_in(worker, "replicate", task_id)


async def test_a_cancel_through_another_server_stops_the_run_in_the_worker(
    cluster: Cluster,
) -> None:
    fakes = cluster.fakes
    async with cluster.server() as a, cluster.server() as b, cluster.worker() as worker:
        await configure(a, fakes)
        fakes.replicate.endless = True
        task_id = await create(a, {"prompt": "x", "tool": PAID_TOOL})
        await fakes.replicate.wait_for_request(lambda r: r.method == "GET")  # it is polling
        assert worker.queue.running() == [task_id]

        response = await b.client.post(f"/api/v1/task/{task_id}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        cancel = await fakes.replicate.wait_for_request(lambda r: r.path.endswith("/cancel"))
        assert cancel.path.split("/")[-2] in fakes.replicate.cancelled
        assert (await status(b, task_id))["status"] == "cancelled"

        fakes.replicate.endless = False
        after = await wait_task(b, await create(a, {"prompt": "y", "tool": PAID_TOOL}))
        assert after["status"] == "succeeded"
        assert worker.queue.running() == []


async def test_the_provider_limit_holds_across_two_workers(cluster: Cluster) -> None:
    fakes = cluster.fakes
    async with cluster.server() as a, cluster.worker() as first, cluster.worker() as second:
        await configure(a, fakes)
        limit = first.queue.limit("replicate")
        fakes.replicate.gate.clear()  # creates are held: each one arrived is a running task
        ids = [await create(a, {"prompt": f"n{i}", "tool": PAID_TOOL}) for i in range(2 * limit)]
        await fakes.replicate.wait_for_request(lambda _: creates(fakes) == limit)
        # Each worker alone has `limit` free coroutines for the provider; none takes more.
        with pytest.raises(AssertionError):
            await fakes.replicate.wait_for_request(lambda _: creates(fakes) > limit, timeout=1.5)
        assert await first.queue.queue("replicate").count("queued") == limit
        info = await second.queue.queue("replicate").info()
        assert len(info["workers"]) == 2
        fakes.replicate.gate.set()
        for task_id in ids:
            assert (await wait_task(a, task_id))["status"] == "succeeded"
        assert creates(fakes) == 2 * limit


async def test_a_server_in_the_scaled_mode_runs_tasks_itself_by_default(
    cluster: Cluster,
) -> None:
    async with cluster.server(run_tasks=True) as server:
        await configure(server, cluster.fakes)
        task = await wait_task(server, await create(server, {"prompt": "x", "tool": PAID_TOOL}))
        assert task["status"] == "succeeded"
        assert server.services.tasks is not None


@dataclass
class WorkerProcess:
    process: asyncio.subprocess.Process
    owner: str
    log: Path


@asynccontextmanager
async def worker_process(cluster: Cluster, *args: str) -> AsyncIterator[WorkerProcess]:
    """`python -m muralist worker` with the cluster's settings; waits for its ready line."""
    log = cluster.data_dir.parent / "worker.log"
    with log.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "muralist",
            "worker",
            "--data-dir",
            str(cluster.data_dir),
            *args,
            cwd=ROOT,
            env={**os.environ, **cluster.env()},
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line.startswith("muralist worker ") and "ready" in line, log.read_text()
        yield WorkerProcess(process, line.split()[2], log)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 60)


async def add_workflow(server: RunningServer, comfy_url: str) -> str:
    response = await server.client.post(
        "/api/config", json={"comfyui": {"url": comfy_url, "api_key": ""}}
    )
    assert response.status_code == 200
    await server.services.store.workflows.create("solid", solid(steps=3), "a plain picture", [])
    await server.services.tools.rebuild()
    return "comfyui_solid"


@pytest.mark.slow
async def test_a_killed_workers_tasks_are_taken_over_and_live_ones_left_alone(
    cluster: Cluster,
) -> None:
    fakes = cluster.fakes
    async with FakeComfyUI() as comfy, cluster.server() as a:
        await configure(a, fakes)
        comfy_tool = await add_workflow(a, comfy.url)
        fakes.replicate.gate.clear()
        comfy.gate.clear()
        async with worker_process(cluster, "--concurrency", "1") as doomed:
            paid = await create(a, {"prompt": "paid", "tool": PAID_TOOL})
            safe = await create(a, {"prompt": "x", "tool": comfy_tool, "canvas_id": "c1"})
            await fakes.replicate.wait_for_request(lambda _: creates(fakes) == 1)
            await comfy.wait_for_prompts(1)

            async with cluster.worker() as survivor:
                # The doomed worker runs one task per provider: this one goes to the survivor.
                live = await create(a, {"prompt": "live", "tool": PAID_TOOL})
                await fakes.replicate.wait_for_request(lambda _: creates(fakes) == 2)
                assert await ran_in(survivor, "replicate", live)
                assert await ran_in(survivor, "replicate", paid, doomed.owner)
                assert await ran_in(survivor, "comfyui", safe, doomed.owner)
                assert survivor.queue.running() == [live]

                doomed.process.send_signal(signal.SIGKILL)
                await doomed.process.wait()

                # A server starting now recovers only what no live process holds.
                async with cluster.server() as c:
                    await c.services.tasks.recover()  # a pass of its own, to be sure of one
                    assert (await status(c, live))["status"] == "running"
                    failed = await wait_task(c, paid, timeout=30)
                    assert failed["status"] == "failed"
                    assert ABANDONED_REASON in failed["error"]
                    assert "not retried because" in failed["error"]
                    assert (await status(c, live))["status"] == "running"

                    comfy.gate.set()  # the dead worker's prompt and the new one finish
                    redone = await wait_task(c, safe, timeout=30)
                    assert redone["status"] == "succeeded", redone["error"]
                    row = await c.services.store.tasks.get(safe)
                    assert row is not None and row["attempts"] == 2
                    assert len(comfy.prompts) == 2
                    assert (await status(c, live))["status"] == "running"

                    fakes.replicate.gate.set()
                    done = await wait_task(c, live, timeout=30)
                    assert done["status"] == "succeeded"
                    row = await c.services.store.tasks.get(live)
                    assert row is not None and row["attempts"] == 1
