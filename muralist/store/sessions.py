"""Chat sessions and their messages."""

import json
from typing import Any

from sqlalchemy import Text, cast, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muralist.ids import now_iso
from muralist.store.tables import change_counters, chat_messages, chat_sessions

SESSION_FIELDS = (
    chat_sessions.c.id,
    chat_sessions.c.title,
    chat_sessions.c.model,
    chat_sessions.c.provider,
    chat_sessions.c.created_at,
    chat_sessions.c.updated_at,
)
# Plain str keys: SQLAlchemy's quoted_name is a str subclass that pydantic_core serialises
# about 30 times slower (it probes each one for attributes).
_SESSION_KEYS = tuple(str(column.key) for column in SESSION_FIELDS)
_NEWEST_FIRST = (chat_sessions.c.updated_at.desc(), chat_sessions.c.id.desc())
_KEYS_AND_FIELDS = [
    part
    for key, field in zip(_SESSION_KEYS, SESSION_FIELDS, strict=True)
    for part in (literal(key), field)
]


async def bump_sessions_version(conn: AsyncConnection) -> None:
    """Mark every cached session list stale; call inside the writing transaction."""
    await conn.execute(
        update(change_counters)
        .where(change_counters.c.name == "sessions")
        .values(version=change_counters.c.version + 1)
    )


class SessionRepo:
    """Chat session rows; the list of all sessions is cached as JSON until a write."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._list_cache: tuple[int, bytes] | None = None
        build = "json_build_object" if engine.dialect.name == "postgresql" else "json_object"
        self._as_json = cast(getattr(func, build)(*_KEYS_AND_FIELDS), Text)

    async def create(
        self,
        session_id: str,
        *,
        canvas_id: str | None,
        title: str = "",
        model: str = "",
        provider: str = "",
    ) -> None:
        now = now_iso()
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(chat_sessions).values(
                    id=session_id,
                    canvas_id=canvas_id,
                    title=title,
                    model=model,
                    provider=provider,
                    created_at=now,
                    updated_at=now,
                )
            )
            await bump_sessions_version(conn)

    async def get(self, session_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(*SESSION_FIELDS, chat_sessions.c.canvas_id).where(
                        chat_sessions.c.id == session_id
                    )
                )
            ).first()
        return dict(row._mapping) if row else None

    async def touch(self, session_id: str, *, title: str | None = None) -> None:
        """Move `updated_at` to now (and set the title when given)."""
        values: dict[str, Any] = {"updated_at": now_iso()}
        if title is not None:
            values["title"] = title
        async with self._engine.begin() as conn:
            await conn.execute(
                update(chat_sessions).where(chat_sessions.c.id == session_id).values(**values)
            )
            await bump_sessions_version(conn)

    async def list_for_canvas(self, canvas_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(*SESSION_FIELDS)
                .where(chat_sessions.c.canvas_id == canvas_id)
                .order_by(*_NEWEST_FIRST)
            )
            # zip over plain rows: building each dict through Row._mapping took twice as long,
            # the larger part of GET /api/canvas/{id} for a canvas with 1,000 sessions.
            return [dict(zip(_SESSION_KEYS, row, strict=True)) for row in rows]

    async def list_for_canvas_json(self, canvas_id: str) -> bytes:
        """The canvas's sessions, newest first, as a JSON array of SessionInfo objects.

        The database writes each object (SQLite json_object, PostgreSQL json_build_object), so
        no Python row or dict is made: for 1,000 sessions this takes about 60% of the time of
        list_for_canvas and serialising its result (bench/api.py).
        """
        async with self._engine.connect() as conn:
            texts = (
                await conn.execute(
                    select(self._as_json)
                    .where(chat_sessions.c.canvas_id == canvas_id)
                    .order_by(*_NEWEST_FIRST)
                )
            ).scalars()
            return ("[" + ",".join(texts) + "]").encode()

    async def list_all_json(self) -> bytes:
        """All sessions, newest first, as a JSON array (served from cache while unchanged)."""
        async with self._engine.connect() as conn:
            version: int = (
                await conn.execute(
                    select(change_counters.c.version).where(change_counters.c.name == "sessions")
                )
            ).scalar_one()
            cached = self._list_cache
            if cached is not None and cached[0] == version:
                return cached[1]
            rows = (await conn.execute(select(*SESSION_FIELDS).order_by(*_NEWEST_FIRST))).all()
        body = json.dumps([dict(row._mapping) for row in rows], ensure_ascii=False).encode()
        self._list_cache = (version, body)
        return body

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return (
                await conn.execute(select(func.count()).select_from(chat_sessions))
            ).scalar_one()


class MessageRepo:
    """Messages of a session, stored as OpenAI-format JSON text in insertion order."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, session_id: str, message: dict[str, Any]) -> int:
        now = now_iso()
        async with self._engine.begin() as conn:
            result = await conn.execute(
                insert(chat_messages)
                .values(
                    session_id=session_id,
                    role=str(message.get("role", "")),
                    message=json.dumps(message, ensure_ascii=False),
                    created_at=now,
                    updated_at=now,
                )
                .returning(chat_messages.c.id)
            )
            return int(result.scalar_one())

    async def update(self, row_id: int, message: dict[str, Any]) -> None:
        """Replace a stored message (a partial answer growing into the complete one)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(chat_messages)
                .where(chat_messages.c.id == row_id)
                .values(
                    role=str(message.get("role", "")),
                    message=json.dumps(message, ensure_ascii=False),
                    updated_at=now_iso(),
                )
            )

    async def list(self, session_id: str) -> list[dict[str, Any]]:
        """The session's messages in order; rows that are not valid JSON objects are skipped."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(chat_messages.c.message)
                .where(chat_messages.c.session_id == session_id)
                .order_by(chat_messages.c.id)
            )
            texts = [row.message for row in rows]
        messages = []
        for text in texts:
            try:
                value = json.loads(text or "")
            except ValueError:
                continue
            if isinstance(value, dict):
                messages.append(value)
        return messages
