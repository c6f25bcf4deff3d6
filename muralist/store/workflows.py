"""ComfyUI workflows saved by the user; each becomes a tool."""

import json
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from muralist.errors import Conflict
from muralist.ids import now_iso
from muralist.store.tables import comfy_workflows

_FIELDS = (
    comfy_workflows.c.id,
    comfy_workflows.c.name,
    comfy_workflows.c.description,
    comfy_workflows.c.api_json,
    comfy_workflows.c.inputs,
    comfy_workflows.c.outputs,
)


class WorkflowRepo:
    """Rows keep api_json, inputs and outputs as JSON text, which is what the UI parses."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # The id column is 32-bit on PostgreSQL and 64-bit on SQLite; an id it cannot hold
        # matches no row, and sending it would make the driver fail with an overflow.
        self._max_id = 2**31 - 1 if engine.dialect.name == "postgresql" else 2**63 - 1

    def _storable(self, workflow_id: int) -> bool:
        return -self._max_id - 1 <= workflow_id <= self._max_id

    async def create(
        self,
        name: str,
        api_json: dict[str, Any],
        description: str,
        inputs: list[Any],
        outputs: Any = None,
    ) -> int:
        now = now_iso()
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    insert(comfy_workflows)
                    .values(
                        name=name,
                        api_json=json.dumps(api_json, ensure_ascii=False),
                        description=description,
                        inputs=json.dumps(inputs, ensure_ascii=False),
                        outputs=json.dumps(outputs, ensure_ascii=False),
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(comfy_workflows.c.id)
                )
                return int(result.scalar_one())
        except IntegrityError as exc:
            raise Conflict(f"name: a workflow named {name!r} exists already") from exc

    async def list(self) -> list[dict[str, Any]]:
        """All workflows, newest id first, with their JSON fields as text."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(*_FIELDS).order_by(comfy_workflows.c.id.desc()))
            return [dict(row._mapping) for row in rows]

    async def get(self, workflow_id: int) -> dict[str, Any] | None:
        if not self._storable(workflow_id):
            return None
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(*_FIELDS).where(comfy_workflows.c.id == workflow_id))
            ).first()
        return dict(row._mapping) if row else None

    async def delete(self, workflow_id: int) -> bool:
        if not self._storable(workflow_id):
            return False
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(comfy_workflows).where(comfy_workflows.c.id == workflow_id)
            )
            return result.rowcount > 0
