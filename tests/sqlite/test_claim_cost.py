"""A claim on SQLite costs the same with a deep backlog: counted in SQLite VM steps, not time."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.backends.support import new_job
from underway.backends.base import SystemClock
from underway.backends.sqlite import SQLiteBackend, claim


def claim_steps(path: Path, lanes: bool = False) -> int:
    """SQLite VM steps (in thousands) one claim of 10 jobs takes, rolled back afterwards."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.execute("BEGIN")
    conn.set_progress_handler(count, 1000)
    claimed = claim.claim(conn, "w", ["default"], 10, time.time())
    conn.set_progress_handler(None, 0)
    conn.execute("ROLLBACK")
    conn.close()
    assert len(claimed) == 10
    return steps


async def fill(backend: SQLiteBackend, count: int, **overrides: object) -> None:
    for start in range(0, count, 1000):
        await backend.enqueue_many(
            [new_job(**overrides) for _ in range(min(1000, count - start))]  # type: ignore[arg-type]
        )


async def test_claim_cost_does_not_grow_with_the_backlog(tmp_path: Path) -> None:
    """More pending jobs (here, in a full lane, in another queue) and jobs scheduled for next
    year leave a claim's cost flat."""
    path = tmp_path / "jobs.db"
    backend = SQLiteBackend(f"sqlite:///{path}", clock=SystemClock())
    await backend.open()
    try:
        await fill(backend, 100)
        await fill(backend, 10, lane="tenant-1", lane_limit=2)
        await fill(backend, 600, lane="tenant-2", lane_limit=2)
        shallow = claim_steps(path)
        await fill(backend, 20_000)
        await fill(backend, 2_000, lane="tenant-2", lane_limit=2)
        await fill(backend, 20_000, queue="elsewhere", priority=5)  # ahead in claim order
        await fill(backend, 5_000, delay_s=365 * 86400.0)
        deep = claim_steps(path)
    finally:
        await backend.close()
    assert deep <= 2 * max(shallow, 1), (shallow, deep)
