"""The scaled mode's task queue: SAQ on Redis, shared by every server and worker process.

- A task is a SAQ job keyed by `<prefix>:<task id>` on the queue `<prefix>:tasks:<provider>`.
  SAQ refuses a key that is still pending, so a task has one delivery at a time however often
  it is enqueued.
- Processes that run tasks (`muralist worker`; `muralist serve` unless MURALIST_RUN_TASKS is
  false) run a SAQ worker per provider. A worker coroutine takes one of the provider's seats
  (seats.py) before it takes a job, so the per-provider limit holds across all processes; a
  seat is held while the job runs and while its holder waits (briefly) for one.
- Heartbeats: a running job is touched every third of its heartbeat. SAQ's sweeper (it runs in
  every consumer process, one at a time) aborts a job whose heartbeat lapsed and delivers it
  again; the task service then finds the task `running` and fails or re-runs it.
- Cancel: SAQ's abort drops a waiting job; a message on `<prefix>:tasks:control` reaches the
  process running the task, which cancels the run's asyncio task and so the provider call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from saq import Worker
from saq.job import Job, Status
from saq.types import Context

from muralist.errors import Unavailable
from muralist.ids import new_id
from muralist.redis_text import as_text
from muralist.tasks.queue import DEFAULT_LIMIT, DEFAULT_LIMITS, Runner, wait_for_run
from muralist.tasks.saq_redis import ProviderQueue
from muralist.tasks.seats import Seats

logger = logging.getLogger(__name__)

JOB_FUNCTION = "run_task"
# SAQ delivers a job again after a crash or a failed run, at most this often in all.
DELIVERIES = 10
RETRY_DELAY_S = 1.0
RETRY_BACKOFF_MAX_S = 30.0
# Finished jobs stay this long, so recovery can tell a finished job from a lost one.
FINISHED_TTL_S = 24 * 3600
# A coroutine that found no job for this long gives its seat back (to other processes).
IDLE_S = 5
# A stopping worker lets a cancelled run clean up (cancel at the provider, write its row) this
# long before it hands the job back to the queue.
CANCEL_DEADLINE_S = 30.0
PROVIDERS_POLL_S = 10.0
_HELD = {Status.NEW, Status.QUEUED}
_RUNNING = {Status.ACTIVE, Status.ABORTING}


def default_owner() -> str:
    """A name for this process in worker listings: host, pid and a random part."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:40]
    return f"{host}-{os.getpid()}-{new_id(6).replace('-', '_')}"


class SaqTaskQueue:
    """Tasks on SAQ queues in Redis; `run_tasks` makes this process one of their workers."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        *,
        run_tasks: bool = True,
        limits: Mapping[str, int] | None = None,
        default_limit: int = DEFAULT_LIMIT,
        concurrency: int | None = None,
        heartbeat_s: float = 30.0,
        owner: str | None = None,
    ) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._run_tasks = run_tasks
        self._limits = {**DEFAULT_LIMITS, **(limits or {})}
        self._default = default_limit
        self._concurrency = concurrency
        self.heartbeat_s = max(1.0, heartbeat_s)
        self.recover_every_s: float | None = max(10.0, 2 * self.heartbeat_s)
        self.owner = owner or default_owner()
        self._control = f"{prefix}:tasks:control"
        self._freed = f"{prefix}:tasks:seats-freed"
        self._providers_key = f"{prefix}:tasks:providers"
        self._redis: aioredis.Redis | None = None
        self._queues: dict[str, ProviderQueue] = {}
        self._workers: dict[str, tuple[Worker, asyncio.Task[None]]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._announced: set[str] = set()
        self._background: list[asyncio.Task[None]] = []
        self._runner: Runner | None = None

    def limit(self, provider: str) -> int:
        """How many tasks of `provider` may run at once, in all processes together."""
        return max(1, self._limits.get(provider, self._default))

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("the task queue is not started")
        return self._redis

    # --- the queue interface ---------------------------------------------------------------

    async def start(self, runner: Runner) -> None:
        self._runner = runner
        self._redis = aioredis.from_url(self._url)
        if not self._run_tasks:
            return
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._control, self._freed)
        self._background = [
            asyncio.create_task(self._listen(pubsub), name="tasks-control"),
            asyncio.create_task(self._renew_seats(), name="tasks-seats"),
            asyncio.create_task(self._follow_providers(), name="tasks-providers"),
        ]
        for provider in sorted(await self._known_providers()):
            self._consume(provider)
        logger.info("task worker %s consumes %s", self.owner, ", ".join(sorted(self._workers)))

    async def enqueue(self, task_id: str, provider: str) -> None:
        try:
            await self._enqueue(task_id, provider)
        except aioredis.RedisError as exc:
            # The row is stored as queued: a recovery pass enqueues it once Redis is back.
            logger.warning("could not enqueue task %s: %s", task_id, exc)
            raise Unavailable(
                "task queue: Redis is unreachable; the task is stored and will run once it is back"
            ) from exc

    async def _enqueue(self, task_id: str, provider: str) -> None:
        await self._queue(provider).enqueue(
            JOB_FUNCTION,
            key=self.job_key(task_id),
            task_id=task_id,
            timeout=0,  # tools enforce their own per-provider timeouts
            heartbeat=self.heartbeat_s,
            retries=DELIVERIES,
            retry_delay=RETRY_DELAY_S,
            retry_backoff=RETRY_BACKOFF_MAX_S,
            ttl=FINISHED_TTL_S,
        )
        if provider not in self._announced:
            await self._announce(provider)
        if self._run_tasks:
            self._consume(provider)

    async def abort(self, task_id: str) -> None:
        try:
            await self._abort(task_id)
        except aioredis.RedisError:
            # The row already says cancelled: a run that goes on cannot write its result.
            logger.warning("could not reach the run of cancelled task %s", task_id, exc_info=True)

    async def _abort(self, task_id: str) -> None:
        providers = sorted(set(self._queues) | await self._known_providers())
        if providers:
            key = self.job_key(task_id)
            blobs = await self.redis.mget([self._queue(p).job_id(key) for p in providers])
            for provider, blob in zip(providers, blobs, strict=True):
                job = self._queue(provider).load_job(blob)
                if job is not None and job.status in _HELD | _RUNNING:
                    await self._queue(provider).abort(job, "cancelled by request")
        # SAQ's own abort reaches a running job only on its worker's next poll; this reaches
        # the process running it at once.
        await self.redis.publish(self._control, json.dumps({"op": "cancel", "task": task_id}))

    async def unheld(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lost, missing = await self._judge(tasks)
        if missing:
            # A running task without a job: Redis lost its data, or the job expired. A live
            # worker writes its job back at its next heartbeat, so look again after one.
            await asyncio.sleep(self.heartbeat_s)
            again, still = await self._judge(missing)
            lost += again + still
        return lost

    async def stop(self) -> None:
        workers = list(self._workers.values())
        self._workers.clear()
        await asyncio.gather(*(worker.stop() for worker, _ in workers), return_exceptions=True)
        await asyncio.gather(*(task for _, task in workers), return_exceptions=True)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        for queue in self._queues.values():
            await queue.settle()
            if queue.seats is not None:
                for seat in list(queue.seats.held):
                    with contextlib.suppress(aioredis.RedisError):
                        await queue.seats.give_back(seat)
            try:
                await queue.disconnect()
            except aioredis.RedisError:  # unreachable: still let go of its connections
                await queue.redis.aclose()
        self._queues.clear()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def running(self) -> list[str]:
        """Ids of the tasks this process runs now."""
        return list(self._running)

    def job_key(self, task_id: str) -> str:
        """The SAQ job key of a task. SAQ keeps an aborted key in `saq:abort:<key>` for a few
        seconds, outside any queue's names; the prefix in the key keeps deployments apart."""
        return f"{self._prefix}:{task_id}"

    def queue(self, provider: str) -> ProviderQueue:
        """The SAQ queue of a provider (for inspection)."""
        return self._queue(provider)

    # --- internals -------------------------------------------------------------------------

    def _queue(self, provider: str) -> ProviderQueue:
        queue = self._queues.get(provider)
        if queue is None:
            name = f"{self._prefix}:tasks:{provider}"
            # Each queue has its own connections: a waiting dequeue blocks one of them.
            client = aioredis.from_url(self._url)
            seats = None
            if self._run_tasks:
                seats = Seats(
                    client,
                    f"{name}:seats",
                    self.limit(provider),
                    lease_s=2 * self.heartbeat_s,
                    channel=self._freed,
                )
            queue = self._queues[provider] = ProviderQueue(client, name, seats)
        return queue

    async def _known_providers(self) -> set[str]:
        stored = await self.redis.smembers(self._providers_key)
        return {as_text(p) for p in stored} | set(DEFAULT_LIMITS) | self._announced

    async def _announce(self, provider: str) -> None:
        if await self.redis.sadd(self._providers_key, provider):
            message = {"op": "provider", "name": provider}
            await self.redis.publish(self._control, json.dumps(message))
        self._announced.add(provider)

    def _consume(self, provider: str) -> None:
        """Run a SAQ worker for the provider in this process (once)."""
        if provider in self._workers or self._runner is None:
            return
        limit = self.limit(provider)
        concurrency = min(limit, self._concurrency) if self._concurrency else limit
        sweep_s = max(1, int(self.heartbeat_s / 2))
        worker = Worker(
            self._queue(provider),
            functions=[(JOB_FUNCTION, self._perform)],
            id=f"{self.owner}.{re.sub(r'[^A-Za-z0-9_.-]', '_', provider)}",
            concurrency=max(1, concurrency),
            timers={"schedule": 1, "worker_info": 10, "sweep": sweep_s, "abort": 1},
            dequeue_timeout=IDLE_S,
            cancellation_hard_deadline_s=CANCEL_DEADLINE_S,
            metadata={"owner": self.owner, "provider": provider},
        )
        worker.SIGNALS = []  # the process's own signal handling stops us
        task = asyncio.create_task(worker.start(), name=f"tasks-worker-{provider}")
        self._workers[provider] = (worker, task)

    async def _perform(self, ctx: Context, *, task_id: str) -> None:
        """SAQ's job function: run the task in a task of its own, touching the job meanwhile."""
        assert self._runner is not None
        job: Job = ctx["job"]
        run = asyncio.create_task(self._runner(task_id), name=f"task-{task_id}")
        self._running[task_id] = run
        beat = asyncio.create_task(self._beat(job), name=f"task-beat-{task_id}")
        try:
            await wait_for_run(run)  # a shutdown or SAQ's abort cancels the run too
        finally:
            beat.cancel()
            if self._running.get(task_id) is run:
                del self._running[task_id]
        if not run.cancelled() and run.exception() is not None:
            # The runner ends every task itself; what escapes is the store failing. SAQ
            # delivers the job again later, and the runner finds the task `running`.
            raise run.exception()  # type: ignore[misc]

    async def _beat(self, job: Job) -> None:
        interval = max(0.2, (job.heartbeat or self.heartbeat_s) / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await job.update()
            except Exception:  # Redis away for a moment; the next beat tries again
                logger.warning("heartbeat of task %s failed", job.key, exc_info=True)

    async def _judge(
        self, tasks: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(lost, missing): tasks whose job ended or lapsed, and running ones with no job."""
        lost: list[dict[str, Any]] = []
        missing: list[dict[str, Any]] = []
        for start in range(0, len(tasks), 500):
            batch = tasks[start : start + 500]
            queues = [self._queue(task["provider"] or "") for task in batch]
            blobs = await self.redis.mget(
                [q.job_id(self.job_key(t["id"])) for q, t in zip(queues, batch, strict=True)]
            )
            for task, queue, blob in zip(batch, queues, blobs, strict=True):
                job = queue.load_job(blob)
                if job is None:
                    (missing if task["status"] == "running" else lost).append(task)
                elif job.status in _HELD or (job.status in _RUNNING and not job.stuck):
                    continue
                else:
                    lost.append(task)
        return lost, missing

    async def _listen(self, pubsub: Any) -> None:
        async for item in pubsub.listen():
            if item.get("type") != "message":
                continue
            try:
                if item.get("channel") == self._freed.encode():
                    self._seat_freed(item["data"].decode())
                    continue
                message = json.loads(item["data"])
                if message.get("op") == "cancel":
                    run = self._running.get(str(message.get("task")))
                    if run is not None:
                        run.cancel()
                elif message.get("op") == "provider":
                    self._consume(str(message.get("name")))
            except Exception:  # one bad message must not stop the listener
                logger.warning("bad task control message %r", item.get("data"), exc_info=True)

    def _seat_freed(self, key: str) -> None:
        for queue in self._queues.values():
            if queue.seats is not None and queue.seats.key == key:
                queue.seats.freed()

    async def _renew_seats(self) -> None:
        while True:
            await asyncio.sleep(2 * self.heartbeat_s / 3)
            for queue in list(self._queues.values()):
                if queue.seats is None:
                    continue
                try:
                    await queue.seats.renew()
                except aioredis.RedisError:
                    logger.warning("could not renew seats of %s", queue.name, exc_info=True)

    async def _follow_providers(self) -> None:
        while True:
            await asyncio.sleep(PROVIDERS_POLL_S)
            try:
                for provider in await self._known_providers():
                    self._consume(provider)
            except aioredis.RedisError:
                logger.warning("could not list task providers", exc_info=True)
