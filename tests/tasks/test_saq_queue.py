"""The SAQ queue on the real Redis: several queue instances stand for several processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from saq.job import Job, Status

from muralist.errors import Unavailable
from muralist.tasks.saq_queue import JOB_FUNCTION, SaqTaskQueue
from tests.support import REDIS_URL
from tests.tasks.test_local_queue import Gate

pytestmark = pytest.mark.usefixtures("redis_prefix")


@pytest.fixture
async def processes(redis_prefix: str) -> AsyncIterator[Callable[..., Any]]:
    """Start SAQ queues ("processes") on the test's prefix; all are stopped afterwards."""
    async with AsyncExitStack() as stack:

        async def start(runner: Any, **options: Any) -> SaqTaskQueue:
            options.setdefault("heartbeat_s", 1.0)
            queue = SaqTaskQueue(REDIS_URL, redis_prefix, **options)
            await queue.start(runner)
            stack.push_async_callback(queue.stop)
            return queue

        yield start


async def test_the_limit_of_a_provider_holds_across_processes(processes: Any) -> None:
    gate = Gate()
    first = await processes(gate.run, limits={"slow": 2})
    second = await processes(gate.run, limits={"slow": 2})
    for index in range(6):
        await first.enqueue(f"slow-{index}", "slow")
    await gate.until(lambda: len(gate.active) == 2)
    # Both processes have free coroutines (2 each); neither takes a third task while two run.
    with pytest.raises(TimeoutError):
        await gate.until(lambda: len(gate.active) > 2, timeout=1.5)
    assert await first.queue("slow").count("queued") == 4
    gate.release.set()
    await gate.until(lambda: len(gate.done) == 6)
    assert gate.peak["slow"] == 2
    assert sorted(gate.done) == [f"slow-{i}" for i in range(6)]
    info = await second.queue("slow").info()
    assert len(info["workers"]) == 2  # both processes consumed the provider's queue


async def test_a_busy_provider_does_not_hold_up_another(processes: Any) -> None:
    gate = Gate()
    queue = await processes(gate.run, limits={"slow": 1})
    for index in range(3):
        await queue.enqueue(f"slow-{index}", "slow")
    await queue.enqueue("other-fast", "other")
    await gate.until(lambda: "other-fast" in gate.done)
    assert not any(t.startswith("slow") for t in gate.done)
    gate.release.set()
    await gate.until(lambda: len(gate.done) == 4)


async def test_abort_cancels_a_run_in_another_process_and_drops_a_waiting_one(
    processes: Any,
) -> None:
    gate = Gate()
    web = await processes(gate.run, run_tasks=False)
    worker = await processes(gate.run, limits={"slow": 1})
    await web.enqueue("slow-0", "slow")
    await web.enqueue("slow-1", "slow")
    await gate.until(lambda: gate.active == {"slow-0"})
    assert worker.running() == ["slow-0"]

    await web.abort("slow-1")  # waiting: SAQ drops it
    waiting = await web.queue("slow").job(web.job_key("slow-1"))
    assert waiting is not None and waiting.status == Status.ABORTED
    await web.abort("slow-0")  # running in the other process: its run is cancelled
    await gate.until(lambda: "slow-0" in gate.cancelled)

    await web.enqueue("slow-2-fast", "slow")
    await gate.until(lambda: "slow-2-fast" in gate.done)
    assert "slow-1" not in gate.done and "slow-1" not in gate.active


async def test_a_stopping_process_hands_its_running_task_to_another(processes: Any) -> None:
    gate = Gate()
    first = await processes(gate.run)
    await first.enqueue("slow-0", "slow")
    await gate.until(lambda: gate.active == {"slow-0"})
    await first.stop()
    assert gate.cancelled == ["slow-0"]
    job = await first.queue("slow").job(first.job_key("slow-0"))
    assert job is not None and job.status == Status.QUEUED  # delivered again later

    calls: list[str] = []
    arrived = asyncio.Event()

    async def second_run(task_id: str) -> None:
        calls.append(task_id)
        arrived.set()

    await processes(second_run)
    await asyncio.wait_for(arrived.wait(), 10)
    assert calls == ["slow-0"]


async def place_job(
    queue: SaqTaskQueue, task_id: str, provider: str, status: Status, touched_ms: int
) -> Job:
    """Write the job of `task_id` as a worker leaves it: taken (in the active list) with the
    given status and last touch. A stale touch is what a killed worker leaves behind."""
    saq_queue = queue.queue(provider)
    await queue.enqueue(task_id, provider)
    job = await saq_queue.job(queue.job_key(task_id))
    assert job is not None
    queued, active = saq_queue.namespace("queued"), saq_queue.namespace("active")
    moved = await saq_queue.redis.lmove(queued, active)
    assert moved is not None
    job.status = status
    job.attempts = 1
    job.started = job.touched = touched_ms
    await saq_queue.redis.set(job.id, saq_queue.serialize(job))
    return job


async def test_the_sweeper_delivers_again_a_task_whose_worker_died(processes: Any) -> None:
    web = await processes(None, run_tasks=False)
    await place_job(web, "dead-1", "slow", Status.ACTIVE, touched_ms=1)

    delivered: list[tuple[str, int]] = []
    arrived = asyncio.Event()

    async def runner(task_id: str) -> None:
        job = await web.queue("slow").job(web.job_key(task_id))
        assert job is not None
        delivered.append((task_id, job.attempts))
        arrived.set()

    await processes(runner)
    await asyncio.wait_for(arrived.wait(), 15)
    assert delivered == [("dead-1", 2)]


async def test_unheld_tells_abandoned_tasks_from_held_ones(processes: Any) -> None:
    web = await processes(None, run_tasks=False)  # nobody runs tasks: states stay put
    now_ms = int(time.time() * 1000)
    await place_job(web, "live", "p", Status.ACTIVE, touched_ms=now_ms)
    await place_job(web, "dead", "p", Status.ACTIVE, touched_ms=now_ms - 60_000)
    finished = await place_job(web, "finished", "p", Status.ACTIVE, touched_ms=now_ms)
    await web.queue("p").finish(finished, Status.COMPLETE)
    await web.enqueue("waiting", "p")
    rows = [
        {"id": "live", "provider": "p", "status": "running"},
        {"id": "dead", "provider": "p", "status": "running"},
        {"id": "finished", "provider": "p", "status": "running"},
        {"id": "waiting", "provider": "p", "status": "queued"},
        {"id": "never-enqueued", "provider": "p", "status": "queued"},
        {"id": "lost-in-redis", "provider": "p", "status": "running"},
    ]
    unheld = {row["id"] for row in await web.unheld(rows)}
    assert unheld == {"dead", "finished", "never-enqueued", "lost-in-redis"}


async def test_a_job_written_back_during_the_second_look_is_held(processes: Any) -> None:
    web = await processes(None, run_tasks=False)
    row = {"id": "restored", "provider": "p", "status": "running"}
    look = asyncio.create_task(web.unheld([row]))
    # Redis lost the job; the live worker writes it back at its next heartbeat.
    await place_job(web, "restored", "p", Status.ACTIVE, touched_ms=int(time.time() * 1000))
    assert await look == []


async def test_enqueueing_a_pending_task_twice_delivers_it_once(processes: Any) -> None:
    gate = Gate()
    web = await processes(None, run_tasks=False)
    await web.enqueue("slow-0", "slow")
    await web.enqueue("slow-0", "slow")
    job = await web.queue("slow").job(web.job_key("slow-0"))
    assert job is not None and job.function == JOB_FUNCTION
    assert await web.queue("slow").count("queued") == 1
    await processes(gate.run)
    gate.release.set()
    await gate.until(lambda: gate.done == ["slow-0"])


async def test_a_job_just_taken_is_swept_only_when_found_unmarked_twice(processes: Any) -> None:
    web = await processes(None, run_tasks=False)
    saq_queue = web.queue("p")
    await web.enqueue("taken", "p")
    # A worker moved the job to the active list and has not marked it active yet.
    await saq_queue.redis.lmove(saq_queue.namespace("queued"), saq_queue.namespace("active"))
    assert await saq_queue.sweep(lock=1) == []
    job = await saq_queue.job(web.job_key("taken"))
    assert job is not None and job.status == Status.QUEUED
    await saq_queue.redis.delete(saq_queue.namespace("sweep"))  # the next sweep's turn
    assert await saq_queue.sweep(lock=1) == [job.id]  # its worker died in that moment
    job = await saq_queue.job(web.job_key("taken"))
    assert job is not None and job.status == Status.QUEUED and job.error == "swept"
    assert await saq_queue.count("active") == 0


async def test_without_redis_a_create_is_a_503_and_a_cancel_still_answers(
    redis_prefix: str,
) -> None:
    queue = SaqTaskQueue("redis://127.0.0.1:9/0", redis_prefix, run_tasks=False)
    await queue.start(None)  # type: ignore[arg-type]
    try:
        with pytest.raises(Unavailable, match="Redis is unreachable"):
            await queue.enqueue("t1", "p")
        await queue.abort("t1")  # logged; the stored row already says cancelled
    finally:
        await queue.stop()
