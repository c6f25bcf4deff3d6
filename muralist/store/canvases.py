"""Canvas rows and the one way to change a canvas scene from the server side."""

import asyncio
import json
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muralist.errors import Conflict
from muralist.ids import now_iso
from muralist.store.sessions import bump_sessions_version
from muralist.store.tables import canvases

LIST_FIELDS = (
    canvases.c.id,
    canvases.c.name,
    canvases.c.description,
    canvases.c.thumbnail,
    canvases.c.created_at,
    canvases.c.updated_at,
)


def parse_scene(text: str | None) -> dict[str, Any]:
    """Decode stored canvas JSON; NULL or broken text reads as an empty scene."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class CanvasRepo:
    """Canvases; server-side scene edits go through `edit`, one lock per canvas."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # Locks vanish with their last user, so idle canvases cost nothing.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def create(self, canvas_id: str, name: str, description: str = "") -> None:
        now = now_iso()
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(canvases).values(
                        id=canvas_id,
                        name=name,
                        description=description,
                        thumbnail="",
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError as exc:
            raise Conflict(f"canvas_id: a canvas with id {canvas_id!r} exists already") from exc

    async def exists(self, canvas_id: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.execute(select(canvases.c.id).where(canvases.c.id == canvas_id))
            return found.first() is not None

    async def get(self, canvas_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(canvases.c.name, canvases.c.data).where(canvases.c.id == canvas_id)
                )
            ).first()
        if row is None:
            return None
        return {"name": row.name, "data": parse_scene(row.data)}

    async def list(self) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(*LIST_FIELDS).order_by(canvases.c.updated_at.desc(), canvases.c.id.desc())
            )
            return [dict(row._mapping) for row in rows]

    async def save(self, canvas_id: str, data: dict[str, Any], thumbnail: str | None) -> bool:
        """Overwrite the scene (and thumbnail); False when the canvas does not exist."""
        values: dict[str, Any] = {
            "data": json.dumps(data, ensure_ascii=False),
            "updated_at": now_iso(),
        }
        if thumbnail is not None:
            values["thumbnail"] = thumbnail
        async with self._lock(canvas_id), self._engine.begin() as conn:
            result = await conn.execute(
                update(canvases).where(canvases.c.id == canvas_id).values(**values)
            )
            return result.rowcount > 0

    async def rename(self, canvas_id: str, name: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(canvases).where(canvases.c.id == canvas_id).values(name=name)
            )
            return result.rowcount > 0

    async def delete(self, canvas_id: str) -> bool:
        """Delete the canvas with its sessions and their messages."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(canvases).where(canvases.c.id == canvas_id))
            await bump_sessions_version(conn)
            return result.rowcount > 0

    @asynccontextmanager
    async def edit(self, canvas_id: str, name: str = "Untitled") -> AsyncIterator[dict[str, Any]]:
        """Yield the scene to change in place; it is written back when the block ends.

        Holds this canvas's lock for the whole block (PostgreSQL also locks the row, so
        several processes queue up too). A canvas that does not exist is created.
        """
        async with self._lock(canvas_id), self._engine.begin() as conn:
            scene = await self._load_for_edit(conn, canvas_id, name)
            scene.setdefault("elements", [])
            scene.setdefault("files", {})
            scene.setdefault("appState", {})
            yield scene
            await conn.execute(
                update(canvases)
                .where(canvases.c.id == canvas_id)
                .values(data=json.dumps(scene, ensure_ascii=False), updated_at=now_iso())
            )

    async def _load_for_edit(
        self, conn: AsyncConnection, canvas_id: str, name: str
    ) -> dict[str, Any]:
        query = select(canvases.c.data).where(canvases.c.id == canvas_id)
        if self._postgres:
            query = query.with_for_update()
        else:
            # SQLite has no row locks and the driver begins a transaction only at the first
            # write: a write first takes the database's write lock, so another process's edit
            # waits instead of being overwritten (SQLite's busy timeout bounds the wait).
            await conn.execute(
                update(canvases).where(canvases.c.id == canvas_id).values(id=canvases.c.id)
            )
        row = (await conn.execute(query)).first()
        if row is not None:
            return parse_scene(row.data)
        # Another process may create the same canvas at this moment: its insert wins and ours
        # does nothing (PostgreSQL waits for its transaction), then we read and lock its row.
        now = now_iso()
        dialect_insert = pg_insert if self._postgres else sqlite_insert
        await conn.execute(
            dialect_insert(canvases)
            .values(id=canvas_id, name=name, thumbnail="", created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=[canvases.c.id])
        )
        row = (await conn.execute(query)).first()
        return parse_scene(row.data) if row is not None else {}

    def _lock(self, canvas_id: str) -> asyncio.Lock:
        lock = self._locks.get(canvas_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[canvas_id] = lock
        return lock
