"""A run that lost its task to a newer run (its process was presumed dead) writes nothing."""

from __future__ import annotations

from pathlib import Path

from muralist.store import Store


async def test_writes_of_an_older_run_are_refused(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}")
    try:
        tasks = store.tasks
        await tasks.create("t1", type="image", status="running", attempts=2)
        stale = await tasks.update(
            "t1", where_status=("running",), where_attempts=1, status="succeeded"
        )
        assert stale is False
        current = await tasks.update(
            "t1", where_status=("running",), where_attempts=2, status="succeeded"
        )
        assert current is True
        row = await tasks.get("t1")
        assert row is not None and row["status"] == "succeeded"
    finally:
        await store.close()
