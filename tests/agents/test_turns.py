"""The turn registry and the confirmation table, on their own."""

import asyncio

import pytest

from muralist.agents.confirmations import ToolConfirmations
from muralist.agents.turns import TurnRegistry
from muralist.errors import Conflict


async def test_one_turn_per_session() -> None:
    turns = TurnRegistry()
    await turns.reserve("s")
    with pytest.raises(Conflict, match="session_id"):
        await turns.reserve("s")
    await turns.release("s")
    await turns.reserve("s")
    assert turns.running("s") and len(turns) == 1


async def test_a_cancel_before_the_turn_ran_is_seen_by_the_turn() -> None:
    turns = TurnRegistry()
    outcome: list[bool] = []

    async def turn() -> None:
        try:
            outcome.append(turns.begin("s"))
        finally:
            await turns.release("s")

    await turns.reserve("s")
    assert await turns.cancel("s") is True  # no task yet
    assert await turns.cancel("s") is False  # already asked
    task = asyncio.create_task(turn())
    turns.start("s", task)
    await task
    assert outcome == [False] and not turns.running("s")


async def test_a_cancel_between_start_and_first_step_still_lets_the_turn_end() -> None:
    turns = TurnRegistry()
    outcome: list[bool] = []

    async def turn() -> None:
        try:
            outcome.append(turns.begin("s"))
        finally:
            await turns.release("s")

    await turns.reserve("s")
    turns.start("s", asyncio.create_task(turn()))
    assert await turns.cancel("s") is True  # the task had not run a single step
    assert outcome == [False] and not turns.running("s")


async def test_cancel_waits_for_the_turn_to_end() -> None:
    turns = TurnRegistry()
    started, ended = asyncio.Event(), asyncio.Event()

    async def turn() -> None:
        try:
            turns.begin("s")
            started.set()
            await asyncio.Event().wait()
        finally:
            ended.set()
            await turns.release("s")

    await turns.reserve("s")
    turns.start("s", asyncio.create_task(turn()))
    await started.wait()
    assert await turns.cancel("s") is True
    assert ended.is_set() and not turns.running("s")
    assert await turns.cancel("unknown") is False


async def test_confirmation_resolves_once_and_is_purged() -> None:
    confirmations = ToolConfirmations(timeout_s=5)
    waiting = asyncio.create_task(confirmations.wait("s", "call"))
    await asyncio.sleep(0)  # one loop turn: the waiter registers itself (no event to await)
    assert len(confirmations) == 1
    assert confirmations.resolve("other-session", "call", True) is False
    assert confirmations.resolve("s", "call", True) is True
    assert await waiting is True
    assert len(confirmations) == 0
    assert confirmations.resolve("s", "call", False) is False


async def test_confirmation_times_out_with_no_answer() -> None:
    confirmations = ToolConfirmations(timeout_s=0.05)
    assert await confirmations.wait("s", "call") is None
    assert len(confirmations) == 0
