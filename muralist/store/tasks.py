"""Generation task rows (the V1 task API); the task service owns their life cycle."""

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from muralist.ids import now_iso
from muralist.store.tables import tasks

_JSON_FIELDS = ("params", "results")


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        key: json.dumps(value, ensure_ascii=False) if key in _JSON_FIELDS else value
        for key, value in fields.items()
    }


def _decode(row: Any) -> dict[str, Any]:
    task = dict(row._mapping)
    for key in _JSON_FIELDS:
        task[key] = json.loads(task[key]) if task[key] else None
    return task


class TaskRepo:
    """Task rows; JSON fields (params, results) are decoded on read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self, task_id: str, *, type: str, status: str = "queued", **fields: Any
    ) -> dict[str, Any]:
        now = now_iso()
        values = _encode({"id": task_id, "type": type, "status": status, **fields})
        async with self._engine.begin() as conn:
            await conn.execute(insert(tasks).values(created_at=now, updated_at=now, **values))
        task = await self.get(task_id)
        assert task is not None
        return task

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert several new tasks in one transaction (rows as for `create`, each with `id`,
        `type` and `status`); one commit for a burst of creates is what keeps SQLite fast."""
        if not rows:
            return
        now = now_iso()
        values = [{"created_at": now, "updated_at": now, **_encode(row)} for row in rows]
        async with self._engine.begin() as conn:
            await conn.execute(insert(tasks), values)

    async def get(self, task_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(tasks).where(tasks.c.id == task_id))).first()
        return _decode(row) if row else None

    async def get_many(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Tasks by id for the ids that exist (the caller keeps its own order)."""
        ids = list(task_ids)
        if not ids:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(tasks).where(tasks.c.id.in_(ids)))
            return {row.id: _decode(row) for row in rows}

    async def update(
        self,
        task_id: str,
        *,
        where_status: Iterable[str] | None = None,
        where_attempts: int | None = None,
        **fields: Any,
    ) -> bool:
        """Change fields; with `where_status`, only when the task is in one of those states;
        with `where_attempts`, only while it is still in that run (a run that lost its task to
        a newer one cannot overwrite it). `updated_at` defaults to now; a caller that keeps its
        own copy of the row passes it."""
        query = update(tasks).where(tasks.c.id == task_id)
        if where_status is not None:
            query = query.where(tasks.c.status.in_(list(where_status)))
        if where_attempts is not None:
            query = query.where(tasks.c.attempts == where_attempts)
        async with self._engine.begin() as conn:
            values = {"updated_at": now_iso(), **_encode(fields)}
            result = await conn.execute(query.values(**values))
            return result.rowcount > 0

    async def list_by_status(self, *statuses: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(tasks).where(tasks.c.status.in_(statuses)).order_by(tasks.c.created_at)
            )
            return [_decode(row) for row in rows]
