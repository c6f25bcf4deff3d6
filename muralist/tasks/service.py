"""The task service: the life cycle of V1 generation tasks over the store and a queue.

queued -> running -> succeeded | failed | cancelled (or queued -> cancelled). Every change is
written with a condition on the current status, so a cancel racing a finish has one winner,
and is pushed as a `task_update` to the room `task:<id>`. A run's own writes are also fenced
by its attempt number, so a run that lost its task (its process was presumed dead and another
run took over) cannot overwrite the newer run.

Recovery: a task no live process holds (the queue's `unheld`) is failed, or re-queued when its
tool is safe to retry; with one process that is every running task at start-up, in the scaled
mode only those whose worker's heartbeat lapsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from muralist.errors import BadRequest, Conflict, NotFound
from muralist.ids import new_id, now_iso
from muralist.tasks.batch import InsertBatcher
from muralist.tasks.freshness import ConfigFollower
from muralist.tasks.queue import TaskQueue
from muralist.tasks.requests import PlannedTask
from muralist.tools.base import MediaOutput, Progress, Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

TERMINAL = ("succeeded", "failed", "cancelled")
RESTART_REASON = "the server stopped while this task was running"
ABANDONED_REASON = "the process running this task stopped or stopped answering"
STOPPED_REASON = "the process running this task was stopped"
# A retry-safe task whose runs keep dying (a tool that crashes its process) stops here.
MAX_ATTEMPTS = 3
MAX_SEARCH_IDS = 100
PUBLIC_FIELDS = (
    "type",
    "status",
    "progress",
    "tool",
    "canvas_id",
    "result_url",
    "results",
    "error",
    "created_at",
    "updated_at",
)


def public(task: dict[str, Any]) -> dict[str, Any]:
    """A task row as the API shows it."""
    shown = {"task_id": task["id"], **{key: task.get(key) for key in PUBLIC_FIELDS}}
    if shown["results"] is None:
        shown["results"] = []
    return shown


def result_entry(output: MediaOutput) -> dict[str, Any]:
    return {
        "type": output.kind,
        "url": output.url,
        "file_id": output.file_name,
        "width": output.width,
        "height": output.height,
        "mime_type": output.mime_type,
        "element_id": output.element_id,
    }


def parse_ids(task_id: str | None, task_ids: str | None) -> list[str]:
    """The ids of a search query (`task_id=X` or `task_ids=a,b,c`), in the asked order."""
    raw = [part.strip() for part in (task_ids or "").split(",") if part.strip()]
    if task_id:
        raw.insert(0, task_id.strip())
    if not raw:
        raise BadRequest("task_ids: give task_id=<id> or task_ids=<id>,<id>,...")
    if len(raw) > MAX_SEARCH_IDS:
        raise BadRequest(f"task_ids: at most {MAX_SEARCH_IDS} ids per search, got {len(raw)}")
    return raw


class TaskService:
    """Creates, runs, cancels and finds tasks; `services.tasks` once the app started."""

    def __init__(self, services: Services, queue: TaskQueue) -> None:
        self._services = services
        self._queue = queue
        self._store = services.store.tasks
        self._inserts = InsertBatcher(self._store.insert_many)
        self._recovery: asyncio.Task[None] | None = None
        # Several processes share a deployment's config files only in the scaled mode.
        self._follower = ConfigFollower(services) if services.settings.redis_url else None

    async def start(self) -> None:
        """Start the queue, then resume what a previous run of the server left behind."""
        await self._queue.start(self.run)
        interval = self._queue.recover_every_s
        if interval is None:
            await self.recover()
        else:
            # A shared queue: a pass may wait for heartbeats to lapse, so passes run in the
            # background, now and every `interval` seconds.
            self._recovery = asyncio.create_task(self._recover_every(interval))

    async def stop(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
            self._recovery = None
        await self._queue.stop()

    async def _recover_every(self, interval: float) -> None:
        while True:
            try:
                await self.recover()
            except Exception:  # Redis or the database away for a moment: try next time
                logger.warning("task recovery pass failed", exc_info=True)
            await asyncio.sleep(interval)

    # --- the API's calls -------------------------------------------------------------------

    async def create(self, plan: PlannedTask) -> str:
        """Store a validated task as queued, hand it to the queue, return its id."""
        task_id = new_id(16)
        row = {
            "id": task_id,
            "type": plan.type,
            "status": "queued",
            "progress": 0,
            "tool": plan.tool.id,
            "provider": plan.tool.provider,
            "params": {"args": plan.args, "quantity": plan.quantity},
            "canvas_id": plan.canvas_id,
            "attempts": 0,
        }
        await self._inserts.add(row)
        await self._queue.enqueue(task_id, plan.tool.provider)
        logger.info("task %s queued (%s, %s)", task_id, plan.type, plan.tool.id)
        return task_id

    async def get(self, task_id: str) -> dict[str, Any]:
        task = await self._store.get(task_id)
        if task is None:
            raise NotFound(f"task_id: no task {task_id!r}")
        return public(task)

    async def search(self, task_ids: list[str]) -> list[dict[str, Any]]:
        """Tasks in the asked order; unknown ids are left out."""
        found = await self._store.get_many(task_ids)
        seen: set[str] = set()
        ordered = []
        for task_id in task_ids:
            if task_id in found and task_id not in seen:
                seen.add(task_id)
                ordered.append(public(found[task_id]))
        return ordered

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel a queued or running task; 409 when it already ended."""
        task = await self._store.get(task_id)
        if task is None:
            raise NotFound(f"task_id: no task {task_id!r}")
        changed = await self._change(
            task, ("queued", "running"), status="cancelled", error="cancelled by request"
        )
        if not changed:
            current = await self._store.get(task_id)
            status = current["status"] if current else task["status"]
            raise Conflict(f"task_id: task {task_id!r} already ended ({status})")
        await self._queue.abort(task_id)
        logger.info("task %s cancelled", task_id)
        return public(task)

    # --- running ---------------------------------------------------------------------------

    async def run(self, task_id: str) -> None:
        """Run one queued task to a terminal state (the queue's runner)."""
        task = await self._store.get(task_id)
        if task is not None and task["status"] == "running":
            # Delivered again: the run that held it ended without finishing it (queue.py).
            await self._resume_or_fail(task, ABANDONED_REASON)
            task = await self._store.get(task_id)
        if task is None or task["status"] != "queued":
            return
        if not await self._change(
            task, ("queued",), status="running", attempts=task["attempts"] + 1
        ):
            return
        try:
            results = await self._execute(task)
        except ToolError as exc:
            await self._finish(task, status="failed", error=exc.message)
        except asyncio.CancelledError:
            await self._interrupted(task)
            raise
        except Exception as exc:  # a bug must still end the task, with a trace in the log
            logger.exception("task %s failed unexpectedly", task_id)
            await self._finish(
                task, status="failed", error=f"internal error: {type(exc).__name__}: {exc}"
            )
        else:
            first = results[0]["url"] if results else None
            await self._finish(
                task, status="succeeded", progress=100, result_url=first, results=results
            )

    async def _tool(self, tool_id: str | None) -> Tool | None:
        if self._follower is not None:
            await self._follower.refresh()
        tool = self._services.tools.get(tool_id or "")
        if tool is None and self._follower is not None:
            # Perhaps a workflow another process saved since our last look.
            await self._follower.refresh(force=True)
            tool = self._services.tools.get(tool_id or "")
        return tool

    async def _execute(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        tool = await self._tool(task["tool"])
        if tool is None:
            raise ToolError(f"tool {task['tool']!r} is no longer configured")
        params = task["params"] or {}
        args = tool.parse_args(params.get("args") or {})
        quantity = max(1, int(params.get("quantity") or 1))
        reporter = _ProgressReporter(self._change, task, quantity)
        ctx = ToolContext(
            services=self._services,
            canvas_id=task["canvas_id"],
            tool_call_id=task["id"],
            task_id=task["id"],
            on_progress=reporter.report,
        )
        results: list[dict[str, Any]] = []
        for index in range(quantity):
            reporter.index = index
            result = await tool.run(args, ctx)
            results.extend(result_entry(output) for output in result.media)
        return results

    async def _finish(self, task: dict[str, Any], **fields: Any) -> None:
        if await self._change(task, ("running",), fenced=True, **fields):
            logger.info("task %s %s", task["id"], fields["status"])

    async def _interrupted(self, task: dict[str, Any]) -> None:
        """The run was cancelled: by a user (row already cancelled) or by a shutdown."""
        current = await self._store.get(task["id"])
        if current is None or current["status"] != "running":
            return
        if current["attempts"] != task["attempts"]:
            return  # another run holds the task now
        local = self._queue.recover_every_s is None
        await self._resume_or_fail(current, RESTART_REASON if local else STOPPED_REASON)

    async def _resume_or_fail(self, task: dict[str, Any], why: str) -> None:
        """Re-queue a running task nobody runs any more when its tool is safe to retry, else
        fail it; both only while it is still in the run that was read (`attempts`)."""
        tool = await self._tool(task["tool"])
        attempts = task["attempts"]
        if tool is not None and tool.retry_safe and attempts < MAX_ATTEMPTS:
            if await self._change(task, ("running",), fenced=True, status="queued", progress=0):
                logger.info("task %s re-queued: %s", task["id"], why)
            return
        if tool is not None and tool.retry_safe:
            reason = f"{why}; it was not retried again after {attempts} attempts"
        else:
            reason = (
                f"{why}; it was not retried because {task['tool']} may charge again for a new run"
            )
        if await self._change(task, ("running",), fenced=True, status="failed", error=reason):
            logger.warning("task %s failed: %s", task["id"], why)

    async def recover(self) -> None:
        """Tasks no live process holds: running ones are failed or re-queued, queued ones are
        enqueued (again)."""
        local = self._queue.recover_every_s is None
        why = RESTART_REASON if local else ABANDONED_REASON
        for task in await self._queue.unheld(await self._store.list_by_status("running")):
            await self._resume_or_fail(task, why)
        for task in await self._queue.unheld(await self._store.list_by_status("queued")):
            await self._queue.enqueue(task["id"], task["provider"] or "")

    async def _change(
        self,
        task: dict[str, Any],
        where_status: tuple[str, ...],
        *,
        fenced: bool = False,
        **fields: Any,
    ) -> bool:
        """Update the row if its status is one of `where_status` (and, `fenced`, while it is
        still in the run of `task["attempts"]`); on success apply the change to the caller's
        copy and push it as a `task_update`."""
        stamp = now_iso()
        if not await self._store.update(
            task["id"],
            where_status=where_status,
            where_attempts=task["attempts"] if fenced else None,
            updated_at=stamp,
            **fields,
        ):
            return False
        task.update(fields, updated_at=stamp)
        shown = public(task)
        await self._services.events.task(task["id"], {**shown, "task_type": shown["type"]})
        return True


class _ProgressReporter:
    """Turns a tool's percentages into the task's overall 0-99 progress (100 on success)."""

    def __init__(
        self, change: Callable[..., Awaitable[bool]], task: dict[str, Any], quantity: int
    ) -> None:
        self._change = change
        self._task = task
        self._quantity = quantity
        self._last = 0
        self.index = 0

    async def report(self, progress: Progress) -> None:
        if progress.percent is None:
            return
        if progress.percent >= 100 and self.index == self._quantity - 1:
            return  # the last unit is done: the task's own finish writes 100 right after
        share = min(max(progress.percent, 0.0), 100.0) / self._quantity
        overall = int(self.index * 100 / self._quantity + share)
        overall = min(overall, 99)
        if overall > self._last:
            self._last = overall
            await self._change(self._task, ("running",), fenced=True, progress=overall)
