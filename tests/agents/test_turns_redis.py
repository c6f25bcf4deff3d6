"""Turn claims, cancels and confirmation answers across processes, on a real Redis."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from muralist.agents.turns_redis import RedisTurns
from muralist.errors import Conflict
from tests.support import REDIS_URL, drop_redis_prefix, require_services


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RedisTurns, RedisTurns, list[tuple]]]:
    """Two registries ("processes") on one Redis prefix; answers reaching A are recorded."""
    require_services(redis=True)
    prefix = f"muralist-test-{uuid.uuid4().hex[:8]}"
    answers: list[tuple] = []
    arrived = asyncio.Event()

    async def answer(session: str, call: str, ok: bool) -> bool:
        answers.append((session, call, ok))
        arrived.set()
        return True

    a, b = RedisTurns(REDIS_URL, prefix, answer), RedisTurns(REDIS_URL, prefix, answer)
    a.arrived = arrived  # type: ignore[attr-defined]
    await a.open()
    await b.open()
    try:
        yield a, b, answers
    finally:
        await a.close()
        await b.close()
        await drop_redis_prefix(prefix)


async def test_a_session_is_claimed_once_across_processes(pair) -> None:
    a, b, _ = pair
    await a.reserve("s1")
    with pytest.raises(Conflict, match="session_id"):
        await b.reserve("s1")
    assert not b.running("s1")  # the refused claim left nothing behind
    await a.release("s1")
    await b.reserve("s1")
    await b.release("s1")


async def test_cancel_on_another_process_stops_the_turn(pair) -> None:
    a, b, _ = pair
    started = asyncio.Event()

    async def turn() -> None:
        try:
            a.begin("s2")
            started.set()
            await asyncio.Event().wait()
        finally:
            await a.release("s2")

    await a.reserve("s2")
    task = asyncio.create_task(turn())
    a.start("s2", task)
    await started.wait()
    assert await b.cancel("s2") is True
    assert task.done() and task.cancelled()  # B answered after A's turn ended
    assert await b.cancel("s2") is False
    assert await b.cancel("never") is False


async def test_confirmation_answer_reaches_the_waiting_process(pair) -> None:
    a, b, answers = pair
    assert await b.relay_confirmation("s3", "call_1", True) is False  # nothing waits yet
    await a.mark_pending("s3", "call_1", ttl_s=30)
    assert await b.relay_confirmation("s3", "call_1", False) is True
    await asyncio.wait_for(a.arrived.wait(), 5)
    assert ("s3", "call_1", False) in answers
    await a.unmark_pending("s3", "call_1")
    assert await b.relay_confirmation("s3", "call_1", True) is False
