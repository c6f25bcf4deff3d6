"""One provider's SAQ queue: our key names, and a seat taken before each job is.

SAQ 0.26 names its keys `saq:<queue>:...` and `saq:job:<queue>:<key>`; this queue puts every
key under its own name (`<prefix>:tasks:<provider>:...`), so one prefix holds a deployment's
keys and tests can isolate theirs. The one key left outside is SAQ's `saq:abort:<job key>`,
which lives five seconds.

The sweep is our own: SAQ's treats a job that sits in the active list without being marked
active as stuck at once, but every job is like that for the moment between a worker taking
it and marking it; a sweep in that moment aborted a job just delivered (seen in the tests,
after a crash: the scheduler hands the job over on the same tick as the sweep). Here such a
job is swept only when a later sweep finds it unmarked still.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from saq.job import Job, Status
from saq.queue.redis import PubSubMultiplexer, RedisQueue

from muralist.redis_text import as_text
from muralist.tasks.seats import Seats

logger = logging.getLogger(__name__)


class ProviderQueue(RedisQueue):
    """SAQ's Redis queue for one provider; with `seats`, dequeue waits for a free seat."""

    def __init__(
        self,
        redis: aioredis.Redis,
        name: str,
        seats: Seats | None = None,
        sweep_abort_s: float = 2.0,
    ) -> None:
        super().__init__(redis, name=name)
        # Job updates are published on the job's key; listen where our keys are.
        self._pubsub = PubSubMultiplexer(redis.pubsub(), prefix=self.job_id(""))
        self.seats = seats
        self._sweep_abort_s = sweep_abort_s
        self._giving_back: set[asyncio.Task[None]] = set()
        self._unmarked: set[tuple[str, int, int]] = set()

    def namespace(self, key: str) -> str:
        return f"{self.name}:{key}"

    def job_id(self, job_key: str) -> str:
        return f"{self.name}:job:{job_key}"

    def job_key_from_id(self, job_id: str) -> str:
        return job_id[len(self.job_id("")) :]

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:
        """Take a seat, then a job; the seat is held until the worker is done with the job."""
        if self.seats is None:
            return await super().dequeue(timeout, poll_interval)
        seat = await self.seats.take()
        job = None
        try:
            job = await super().dequeue(timeout, poll_interval)
        finally:
            if job is None:
                self._give_back_soon(seat)
        if job is None:
            return None
        # SAQ's worker runs dequeue, the job and its bookkeeping in one asyncio task per job:
        # when that task ends, however it ends, the seat is free again.
        current = asyncio.current_task()
        if current is None:
            self._give_back_soon(seat)
        else:
            current.add_done_callback(lambda _: self._give_back_soon(seat))
        return job

    def _give_back_soon(self, seat: str) -> None:
        assert self.seats is not None
        task = asyncio.get_running_loop().create_task(self._give_back(self.seats, seat))
        self._giving_back.add(task)
        task.add_done_callback(self._giving_back.discard)

    @staticmethod
    async def _give_back(seats: Seats, seat: str) -> None:
        try:
            await seats.give_back(seat)
        except Exception:  # the lease lapses on its own
            logger.warning("could not give back a seat of %s", seats.key, exc_info=True)

    async def settle(self) -> None:
        """Wait until every seat given back has reached Redis."""
        if self._giving_back:
            await asyncio.gather(*self._giving_back, return_exceptions=True)

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """Abort jobs whose worker is gone and deliver them again (or give up on them once
        they used their deliveries); one process sweeps a queue per `lock` seconds."""
        if not await self.redis.set(self.namespace("sweep"), 1, ex=lock, nx=True):
            return []
        active = self.namespace("active")
        ids = [as_text(raw) for raw in await self.redis.lrange(active, 0, -1)]
        blobs = await self.redis.mget(ids) if ids else []
        unmarked: set[tuple[str, int, int]] = set()
        suspects: list[Job] = []
        gone: list[str] = []
        for job_id, blob in zip(ids, blobs, strict=True):
            job = self.load_job(blob)
            if job is None or job.status in (Status.COMPLETE, Status.FAILED, Status.ABORTED):
                gone.append(job_id)  # ended (or lost), yet still listed as active
            elif job.status in (Status.NEW, Status.QUEUED):
                sighting = (job_id, job.touched, job.queued)
                unmarked.add(sighting)
                if sighting in self._unmarked:
                    suspects.append(job)
            elif job.stuck:
                suspects.append(job)
        self._unmarked = unmarked
        for job_id in gone:
            await self.redis.lrem(active, 0, job_id)
            await self.redis.zrem(self.namespace("incomplete"), job_id)
        # Look again just before sweeping: a job touched since the listing is alive.
        fresh = await self.jobs(job.key for job in suspects) if suspects else []
        stuck = [
            now
            for then, now in zip(suspects, fresh, strict=True)
            if now is not None
            and (
                now.stuck
                or (now.status in (Status.NEW, Status.QUEUED) and now.touched == then.touched)
            )
        ]
        await asyncio.gather(*(self._sweep_job(job) for job in stuck))
        return gone + [job.id for job in stuck]

    async def _sweep_job(self, job: Job) -> None:
        logger.info("sweeping job %s (its worker stopped touching it)", job.key)
        error = self.swept_error_message
        await self.abort(job, error=error)
        # A worker that is alive but was stalled answers the abort by ending the job.
        with contextlib.suppress(TimeoutError, RuntimeError):
            await job.refresh(self._sweep_abort_s)
        if job.status in (Status.COMPLETE, Status.FAILED, Status.ABORTED):
            return
        if job.retryable:
            await self.retry(job, error=error)
        else:
            await self.finish(job, Status.ABORTED, error=error)

    def load_job(self, blob: Any) -> Job | None:
        """A stored job blob (bytes from MGET) as a Job, or None."""
        return self.deserialize(blob) if blob else None
