"""Seats: a counting semaphore in Redis, so a provider's concurrency limit holds across processes.

A seat is a member of the sorted set `<key>` whose score is the moment its lease ends. Taking
a seat first drops lapsed leases (their holder died or stalled), then adds one only while
fewer than `limit` remain. Holders renew their leases well before they end. Times come from
the Redis server's clock, so hosts whose clocks disagree still agree on who holds what.

A seat given back is announced on `channel` (the seats' key as the message), so processes
waiting for one try again at once; a slow poll covers lapsed leases and lost messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable

import redis.asyncio as aioredis

from muralist.ids import new_id

logger = logging.getLogger(__name__)

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""
# KEYS[1] seats; ARGV: limit, lease ms, member. 1 when the seat was taken.
_TAKE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
)
# KEYS[1] seats; ARGV: lease ms, members... Renews the members still present; how many were.
# A lapsed lease that is still listed was not given away (taking drops it first), so renewing
# it cannot push the seat count over the limit.
_RENEW = (
    _NOW
    + """
local kept = 0
for index = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[index]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[index])
    kept = kept + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return kept
"""
)


class Seats:
    """At most `limit` holders of `key` at once, among every process sharing the Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        limit: int,
        lease_s: float,
        poll_s: float = 1.0,
        channel: str | None = None,
    ) -> None:
        self.key = key
        self.limit = max(1, limit)
        self._redis = redis
        self._lease_ms = max(1000, int(lease_s * 1000))
        self._poll_s = poll_s
        self._channel = channel
        self._freed = asyncio.Event()
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        # One coroutine per process polls for a free seat; the others wait behind it, so a
        # crowd of idle workers costs Redis one call per poll, not one each.
        self._turn = asyncio.Lock()
        self.held: set[str] = set()

    async def try_take(self) -> str | None:
        """A seat if one is free now, else None."""
        member = new_id(16)
        if await self._take(keys=[self.key], args=[self.limit, self._lease_ms, member]):
            self.held.add(member)
            return member
        return None

    async def take(self) -> str:
        """Wait until a seat is free and take it."""
        async with self._turn:
            while True:
                self._freed.clear()  # before trying: a seat freed from now on wakes us
                seat = await self.try_take()
                if seat is not None:
                    return seat
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._freed.wait(), self._poll_s * (0.5 + random.random())
                    )

    def freed(self) -> None:
        """A seat was given back somewhere: let the waiting coroutine try again."""
        self._freed.set()

    async def give_back(self, seat: str) -> None:
        """Free a seat (a seat that already lapsed is simply gone)."""
        self.held.discard(seat)
        await self._redis.zrem(self.key, seat)
        self.freed()
        if self._channel:
            await self._redis.publish(self._channel, self.key)

    async def renew(self, seats: Iterable[str] | None = None) -> None:
        """Extend the leases of the seats this process holds."""
        members = list(self.held if seats is None else seats)
        if not members:
            return
        kept = await self._renew(keys=[self.key], args=[self._lease_ms, *members])
        if kept < len(members):
            # The process stalled for longer than a lease: others may have taken those seats.
            lost = len(members) - kept
            logger.warning("%d of %d seats of %s had lapsed", lost, len(members), self.key)

    async def count(self) -> int:
        """How many seats are taken now (lapsed leases included until the next take)."""
        return int(await self._redis.zcard(self.key))
