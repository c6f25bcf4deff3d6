"""Creates arriving together share one insert; each waits for its own row."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from muralist.tasks.batch import InsertBatcher


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None
        self.started = asyncio.Event()

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        self.calls.append([row["id"] for row in rows])
        self.started.set()
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with


async def test_rows_waiting_during_an_insert_go_into_the_next_one() -> None:
    recorder = Recorder()
    batcher = InsertBatcher(recorder.insert_many, max_batch=3)
    first = asyncio.create_task(batcher.add({"id": "t0"}))
    await asyncio.wait_for(recorder.started.wait(), 5)
    later = [asyncio.create_task(batcher.add({"id": f"t{i}"})) for i in range(1, 7)]
    await asyncio.wait(later, timeout=0)  # queued behind the running insert
    assert not first.done() and not any(add.done() for add in later)
    recorder.release.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 5)
    assert recorder.calls == [["t0"], ["t1", "t2", "t3"], ["t4", "t5", "t6"]]


async def test_a_failed_insert_fails_every_create_of_the_batch() -> None:
    recorder = Recorder()
    recorder.fail_with = RuntimeError("disk full")
    recorder.release.set()
    batcher = InsertBatcher(recorder.insert_many)
    results = await asyncio.gather(
        *(batcher.add({"id": f"t{i}"}) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    recorder.fail_with = None
    await batcher.add({"id": "after"})
    assert recorder.calls[-1] == ["after"]


async def test_a_single_create_is_inserted_at_once() -> None:
    recorder = Recorder()
    recorder.release.set()
    await asyncio.wait_for(InsertBatcher(recorder.insert_many).add({"id": "only"}), 5)
    assert recorder.calls == [["only"]]


@pytest.mark.parametrize("size", [1, 500])
async def test_batch_size_is_bounded(size: int) -> None:
    recorder = Recorder()
    recorder.release.set()
    batcher = InsertBatcher(recorder.insert_many, max_batch=size)
    await asyncio.gather(*(batcher.add({"id": str(i)}) for i in range(20)))
    assert max(len(call) for call in recorder.calls) <= size
    assert sorted(int(i) for call in recorder.calls for i in call) == list(range(20))
