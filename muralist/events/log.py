"""The replay log behind `join` with `since`: sequence numbers and recent events per session.

In one process the log lives in memory. In the scaled mode it lives in Redis, so sequence
numbers stay unique and a reconnecting client can catch up whichever process it reaches.
"""

import json
from collections import OrderedDict, deque
from typing import Any, Protocol

import redis.asyncio as redis

from muralist.redis_text import as_text

EVENTS_PER_SESSION = 1000
SESSIONS_IN_MEMORY = 2000
REDIS_TTL_SECONDS = 24 * 3600


class EventLog(Protocol):
    async def append(self, session_id: str, event: dict[str, Any]) -> int:
        """Give `event` the session's next `seq` (set in place), keep it, return the seq."""
        ...

    async def since(self, session_id: str, seq: int) -> list[dict[str, Any]]:
        """Kept events of the session with a `seq` above `seq`, oldest first."""
        ...

    async def close(self) -> None: ...


class MemoryEventLog:
    """The last events of the most recently active sessions of this process."""

    def __init__(self) -> None:
        self._logs: OrderedDict[str, tuple[list[int], deque[dict[str, Any]]]] = OrderedDict()

    async def append(self, session_id: str, event: dict[str, Any]) -> int:
        entry = self._logs.get(session_id)
        if entry is None:
            entry = self._logs[session_id] = ([0], deque(maxlen=EVENTS_PER_SESSION))
            while len(self._logs) > SESSIONS_IN_MEMORY:
                self._logs.popitem(last=False)
        else:
            self._logs.move_to_end(session_id)
        counter, events = entry
        counter[0] += 1
        event["seq"] = counter[0]
        events.append(event)
        return counter[0]

    async def since(self, session_id: str, seq: int) -> list[dict[str, Any]]:
        entry = self._logs.get(session_id)
        return [] if entry is None else [e for e in entry[1] if e["seq"] > seq]

    async def close(self) -> None:
        self._logs.clear()


# One round trip: take the next number, keep "<seq> <json>" in a capped list, refresh expiry.
_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], seq .. ' ' .. ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq
"""


class RedisEventLog:
    """The log in Redis, shared by every process of a scaled deployment."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._prefix = prefix
        self._append = self._redis.register_script(_APPEND)

    def _keys(self, session_id: str) -> list[str]:
        return [f"{self._prefix}:seq:{session_id}", f"{self._prefix}:events:{session_id}"]

    async def append(self, session_id: str, event: dict[str, Any]) -> int:
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        seq = int(
            await self._append(
                keys=self._keys(session_id), args=[body, EVENTS_PER_SESSION, REDIS_TTL_SECONDS]
            )
        )
        event["seq"] = seq
        return seq

    async def since(self, session_id: str, seq: int) -> list[dict[str, Any]]:
        found = []
        for item in await self._redis.lrange(self._keys(session_id)[1], 0, -1):
            number, _, body = as_text(item).partition(" ")
            if int(number) > seq:
                found.append({**json.loads(body), "seq": int(number)})
        return found

    async def close(self) -> None:
        await self._redis.aclose()
