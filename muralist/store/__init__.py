"""Durable records: SQLite by default, PostgreSQL when MURALIST_DATABASE_URL says so."""

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from muralist.store.canvases import CanvasRepo
from muralist.store.db import create_engine, migrate
from muralist.store.sessions import MessageRepo, SessionRepo
from muralist.store.tasks import TaskRepo
from muralist.store.workflows import WorkflowRepo

log = logging.getLogger(__name__)


class Store:
    """One engine and a repository per kind of record."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = SessionRepo(engine)
        self.messages = MessageRepo(engine)
        self.canvases = CanvasRepo(engine)
        self.workflows = WorkflowRepo(engine)
        self.tasks = TaskRepo(engine)

    @classmethod
    async def open(cls, url: str) -> "Store":
        """Connect and migrate the schema to the newest revision."""
        engine = create_engine(url)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = ["Store"]
