"""Migration 0014 on SQLite: a database left by the release before keeps its counts, except
where a job that others had counted as ended was retried on its own (that release left it
counted): then they wait for it again, and its end is counted once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.backends.dependency_support import end, step, stored
from tests.backends.support import new_job
from tests.migrations_before import sqlite_before
from underway.backends.base import SystemClock
from underway.backends.sqlite import SQLiteBackend
from underway.models import JobState

BEFORE = "0014_counted_by_transition"


async def test_a_dependency_retried_on_its_own_before_the_upgrade_is_waited_for_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    sqlite_before(path, BEFORE)
    retried, other, plain = step(), step(), new_job()
    tolerant = step(retried, other, tolerate=1)
    old = SQLiteBackend(f"sqlite:///{path}", clock=SystemClock(), migrate=False)
    await old.open()
    try:
        await old.enqueue_many([retried, other, tolerant, plain])
    finally:
        await old.close()
    # What the release before left: `retried` failed and was counted on its edge, then was
    # retried on its own, which left the edge counted.
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE underway_jobs SET state = 'pending' WHERE id = ?", (retried.id,))
        conn.execute(
            "UPDATE underway_dependencies SET ended = 'failed' WHERE dependency_id = ?",
            (retried.id,),
        )
        conn.execute(
            "UPDATE underway_jobs SET waiting_on = 1, failed_dependencies = 1 WHERE id = ?",
            (tolerant.id,),
        )
    conn.close()

    backend = SQLiteBackend(f"sqlite:///{path}", clock=SystemClock())
    await backend.open()
    try:
        waiting = await stored(backend, tolerant)
        assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (
            JobState.WAITING,
            2,
            0,
        )
        assert (await stored(backend, plain)).waiting_on == 0
        await end(backend, retried)
        assert (await stored(backend, tolerant)).waiting_on == 1
        await end(backend, other)
        released = await stored(backend, tolerant)
        assert (released.state, released.waiting_on) == (JobState.PENDING, 0)
    finally:
        await backend.close()
