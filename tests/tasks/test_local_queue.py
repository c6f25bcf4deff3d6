"""The in-process queue: per-provider limits, independence of providers, abort, stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from muralist.tasks.local import LocalTaskQueue


class Gate:
    """A runner whose runs block until released, recording concurrency."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.peak: dict[str, int] = {}
        self.done: list[str] = []
        self.cancelled: list[str] = []
        self.release = asyncio.Event()
        self.changed = asyncio.Condition()

    async def run(self, task_id: str) -> None:
        provider = task_id.split("-")[0]
        async with self.changed:
            self.active.add(task_id)
            count = sum(1 for t in self.active if t.startswith(provider + "-"))
            self.peak[provider] = max(self.peak.get(provider, 0), count)
            self.changed.notify_all()
        try:
            if not task_id.endswith("-fast"):
                await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(task_id)
            raise
        finally:
            async with self.changed:
                self.active.discard(task_id)
                self.changed.notify_all()
        async with self.changed:
            self.done.append(task_id)
            self.changed.notify_all()

    async def until(self, check: object, timeout: float = 5.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), timeout)  # type: ignore[arg-type]


@pytest.fixture
async def queue() -> AsyncIterator[tuple[LocalTaskQueue, Gate]]:
    gate = Gate()
    tasks = LocalTaskQueue(limits={"slow": 2}, default_limit=3)
    await tasks.start(gate.run)
    yield tasks, gate
    await tasks.stop()


async def test_limit_per_provider_is_respected(queue: tuple[LocalTaskQueue, Gate]) -> None:
    tasks, gate = queue
    for index in range(6):
        await tasks.enqueue(f"slow-{index}", "slow")
    await gate.until(lambda: len(gate.active) == 2)
    gate.release.set()
    await gate.until(lambda: len(gate.done) == 6)
    assert gate.peak["slow"] == 2
    assert sorted(gate.done) == [f"slow-{i}" for i in range(6)]


async def test_a_busy_provider_does_not_hold_up_another(queue: tuple[LocalTaskQueue, Gate]) -> None:
    tasks, gate = queue
    for index in range(4):
        await tasks.enqueue(f"slow-{index}", "slow")
    await tasks.enqueue("other-fast", "other")
    await gate.until(lambda: "other-fast" in gate.done)
    assert not any(t.startswith("slow") for t in gate.done)
    gate.release.set()


async def test_abort_drops_a_queued_task_and_cancels_a_running_one(
    queue: tuple[LocalTaskQueue, Gate],
) -> None:
    tasks, gate = queue
    for index in range(3):
        await tasks.enqueue(f"slow-{index}", "slow")
    await gate.until(lambda: len(gate.active) == 2)
    await tasks.abort("slow-0")
    await tasks.abort("slow-2")
    await gate.until(lambda: "slow-0" in gate.cancelled)
    gate.release.set()
    await gate.until(lambda: "slow-1" in gate.done)
    await tasks.enqueue("slow-3-fast", "slow")
    await gate.until(lambda: "slow-3-fast" in gate.done)
    assert "slow-2" not in gate.done and "slow-2" not in gate.active
    assert tasks.running() == []


async def test_stop_cancels_running_tasks(queue: tuple[LocalTaskQueue, Gate]) -> None:
    tasks, gate = queue
    await tasks.enqueue("slow-0", "slow")
    await gate.until(lambda: len(gate.active) == 1)
    await tasks.stop()
    assert gate.cancelled == ["slow-0"]


async def test_a_crashing_runner_does_not_kill_the_worker(
    queue: tuple[LocalTaskQueue, Gate],
) -> None:
    tasks, gate = queue
    calls: list[str] = []

    async def flaky(task_id: str) -> None:
        calls.append(task_id)
        if task_id == "boom":
            raise RuntimeError("bug")
        await gate.run(task_id)

    await tasks.start(flaky)
    await tasks.enqueue("boom", "one")
    await tasks.enqueue("one-fast", "one")
    await gate.until(lambda: "one-fast" in gate.done)
    assert calls == ["boom", "one-fast"]


def test_enqueue_before_start_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(LocalTaskQueue().enqueue("x", "p"))


def test_limits() -> None:
    queue = LocalTaskQueue(limits={"openai": 0})
    assert queue.limit("comfyui") == 1
    assert queue.limit("openai") == 1
    assert queue.limit("anything") == 4
