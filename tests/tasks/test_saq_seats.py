"""Seats: a provider's limit shared by every process through Redis, with leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from muralist.tasks.seats import Seats
from tests.support import REDIS_URL


@pytest.fixture
async def client(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()


async def test_no_more_than_the_limit_is_taken_by_all_holders(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:seats"
    one, other = Seats(client, key, 2, lease_s=30), Seats(client, key, 2, lease_s=30)
    first = await one.try_take()
    second = await other.try_take()
    assert first and second and first != second
    assert await one.try_take() is None and await other.try_take() is None
    assert await one.count() == 2

    waiting = asyncio.create_task(other.take())
    await other.give_back(second)
    assert await asyncio.wait_for(waiting, 5) not in (None, first)
    assert await one.count() == 2


async def test_a_holder_that_stopped_renewing_loses_its_seat(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:seats"
    dead, alive = Seats(client, key, 1, lease_s=1), Seats(client, key, 1, lease_s=1)
    assert await dead.try_take()
    started = time.monotonic()
    taken = await asyncio.wait_for(alive.take(), 5)  # dead never renews
    assert taken and time.monotonic() - started >= 0.5
    # The live holder keeps its seat by renewing it.
    for _ in range(3):
        await alive.renew()
        assert await dead.try_take() is None
        await asyncio.sleep(0.4)
    await alive.renew()
    assert await dead.try_take() is None
    assert await client.pttl(key) > 0  # the key goes away once every lease lapsed
