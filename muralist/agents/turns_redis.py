"""Turns across processes (scaled mode): claims, cancels and confirmations through Redis.

- A turn claims `<prefix>:turn:<session>` with SET NX (a second claim anywhere gets 409). The
  owner refreshes its claims' expiry, so a crashed process frees its sessions within a minute.
- A cancel reaching a process that does not run the turn is published on `<prefix>:turns`;
  the owner cancels it and publishes `ended` when the turn is over.
- A pending confirmation is noted at `<prefix>:confirm:<session>:<call>`; an answer reaching
  another process is published and the owner resolves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from muralist.agents.turns import CANCEL_WAIT_S, TurnRegistry, busy
from muralist.ids import new_id

logger = logging.getLogger(__name__)

CLAIM_TTL_MS = 60_000
REFRESH_S = 20.0
# Delete a claim only while it is still ours (it may have expired and been taken since).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"

Answer = Callable[[str, str, bool], Awaitable[bool]]


class RedisTurns(TurnRegistry):
    """A TurnRegistry whose sessions are claimed in Redis, shared by every process."""

    def __init__(self, url: str, prefix: str, answer: Answer) -> None:
        super().__init__()
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._channel = f"{prefix}:turns"
        self._answer = answer
        self.owner = new_id(12)
        self._ended: dict[str, list[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def _claim_key(self, session_id: str) -> str:
        return f"{self._prefix}:turn:{session_id}"

    def _confirm_key(self, session_id: str, tool_call_id: str) -> str:
        return f"{self._prefix}:confirm:{session_id}:{tool_call_id}"

    async def open(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        self._tasks = [
            asyncio.create_task(self._listen(pubsub)),
            asyncio.create_task(self._refresh_claims()),
        ]

    async def close(self) -> None:
        await super().close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._redis.aclose()

    async def reserve(self, session_id: str) -> None:
        self.claim(session_id)
        try:
            claimed = await self._redis.set(
                self._claim_key(session_id), self.owner, nx=True, px=CLAIM_TTL_MS
            )
        except BaseException:
            await super().release(session_id)
            raise
        if not claimed:
            await super().release(session_id)
            raise busy(session_id)

    async def release(self, session_id: str) -> None:
        await super().release(session_id)
        try:
            await self._redis.eval(_RELEASE, 1, self._claim_key(session_id), self.owner)
            await self._publish({"op": "ended", "session": session_id})
        except aioredis.RedisError:
            logger.warning("could not release session %s in Redis", session_id, exc_info=True)

    async def cancel(self, session_id: str) -> bool:
        if self.running(session_id):
            return await super().cancel(session_id)
        if await self._redis.get(self._claim_key(session_id)) is None:
            return False
        ended = asyncio.get_running_loop().create_future()
        self._ended.setdefault(session_id, []).append(ended)
        try:
            await self._publish({"op": "cancel", "session": session_id})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended, CANCEL_WAIT_S)
        finally:
            waiting = self._ended.get(session_id, [])
            if ended in waiting:
                waiting.remove(ended)
        return True

    async def mark_pending(self, session_id: str, tool_call_id: str, ttl_s: float) -> None:
        key = self._confirm_key(session_id, tool_call_id)
        await self._redis.set(key, self.owner, px=int(ttl_s * 1000) + 1000)

    async def unmark_pending(self, session_id: str, tool_call_id: str) -> None:
        await self._redis.delete(self._confirm_key(session_id, tool_call_id))

    async def relay_confirmation(self, session_id: str, tool_call_id: str, confirmed: bool) -> bool:
        if not await self._redis.exists(self._confirm_key(session_id, tool_call_id)):
            return False
        message = {"op": "confirm", "session": session_id, "call": tool_call_id, "ok": confirmed}
        await self._publish(message)
        return True

    async def _publish(self, message: dict[str, Any]) -> None:
        await self._redis.publish(self._channel, json.dumps(message))

    async def _listen(self, pubsub: Any) -> None:
        async for item in pubsub.listen():
            if item.get("type") != "message":
                continue
            try:
                message = json.loads(item["data"])
                await self._handle(message)
            except Exception:  # one bad message must not stop the listener
                logger.warning("bad turn-control message %r", item.get("data"), exc_info=True)

    async def _handle(self, message: dict[str, Any]) -> None:
        session = str(message.get("session", ""))
        op = message.get("op")
        if op == "cancel" and self.running(session):
            asyncio.create_task(super().cancel(session))
        elif op == "ended":
            for future in self._ended.pop(session, []):
                if not future.done():
                    future.set_result(None)
        elif op == "confirm":
            await self._answer(session, str(message.get("call", "")), bool(message.get("ok")))

    async def _refresh_claims(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            sessions = list(self._turns)
            if not sessions:
                continue
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for session_id in sessions:
                        pipe.pexpire(self._claim_key(session_id), CLAIM_TTL_MS)
                    await pipe.execute()
            except aioredis.RedisError:
                logger.warning("could not refresh turn claims in Redis", exc_info=True)
