"""Settling on SQLite costs a finish nothing per job while no job waits for another (one probe
of the empty index of jobs waiting for one not ended), and writes no edge once one does."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.backends.support import new_job
from underway.backends.base import SystemClock
from underway.backends.sqlite import SQLiteBackend, dependencies


def statements_of_settling(path: Path, ids: list[str]) -> list[str]:
    """The statements `dependencies.settle` runs for these ids, ended as completed in the
    same transaction, all of it rolled back afterwards."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    ran: list[str] = []
    conn.execute("BEGIN")
    conn.execute(
        "UPDATE underway_jobs SET state = 'completed' WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    conn.set_trace_callback(ran.append)
    dependencies.settle(conn, ids, 0.0)
    conn.set_trace_callback(None)
    conn.execute("ROLLBACK")
    conn.close()
    return [" ".join(statement.split()) for statement in ran]


async def test_settling_probes_once_while_nothing_waits_and_writes_no_edge_once_a_job_does(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    backend = SQLiteBackend(f"sqlite:///{path}", clock=SystemClock())
    await backend.open()
    try:
        plain = [new_job() for _ in range(200)]
        await backend.enqueue_many(plain)
        quiet = statements_of_settling(path, [job.id for job in plain])
        awaited = plain[0]
        await backend.enqueue(new_job(after=(awaited.id,)))
        waited_on = statements_of_settling(path, [awaited.id])
    finally:
        await backend.close()
    assert quiet == [" ".join(dependencies.ANY_AWAITING.split())]
    assert any(s.startswith("UPDATE underway_jobs SET waiting_on") for s in waited_on), waited_on
    assert not any("UPDATE underway_dependencies" in s for s in waited_on), waited_on
