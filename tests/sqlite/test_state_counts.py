"""SQLite counts jobs per state, and per queue and state, on indexes (a count of every row's
state reads the whole table): the counts it derives match a plain count, for jobs in every
state and on every claim index (plain, laned, rate-keyed, parked)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.backends.support import claim_one, lease, new_job
from underway.backends.base import SystemClock
from underway.backends.sqlite import SQLiteBackend, queue_counts, reads
from underway.models import JobError, Outcome

PER_QUEUE = "SELECT queue, state, count(*) FROM underway_jobs GROUP BY queue, state"


def counted(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(what stats() derives, a plain count per state) of the database at `path`; per queue
    and state, the derived counts must match a plain count too."""
    conn = sqlite3.connect(path)
    try:
        plain = dict(conn.execute("SELECT state, count(*) FROM underway_jobs GROUP BY state"))
        per_queue = {(q, s): n for q, s, n in conn.execute(PER_QUEUE)}
        rows = queue_counts.job_counts(conn, None, time.time())
        assert {(row["queue"], row["state"]): row["n"] for row in rows} == per_queue
        one = queue_counts.job_counts(conn, "other", time.time())
        assert {(row["queue"], row["state"]) for row in one} == {
            key for key in per_queue if key[0] == "other"
        }
        return reads.stats(conn, time.time()).counts, plain
    finally:
        conn.close()


async def test_the_counts_on_indexes_match_a_count_of_every_row(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    backend = SQLiteBackend(f"sqlite:///{path}", clock=SystemClock())
    await backend.open()
    try:
        await backend.enqueue(new_job(max_attempts=1))  # claimed first, then fails
        await backend.enqueue_many([new_job() for _ in range(4)])
        await backend.enqueue_many([new_job(queue="other") for _ in range(2)])
        await backend.enqueue(new_job(queue="other", lane="tenant-2", lane_limit=1))
        await backend.enqueue(new_job(lane="tenant-1", lane_limit=1))
        await backend.enqueue(new_job(rate_key="k", rate_limit=5, rate_window_s=1.0))
        parked = await backend.enqueue(new_job(rate_key="k2", rate_limit=1, rate_window_s=60.0))
        later = (await backend.enqueue(new_job(delay_s=3600.0))).job
        await backend.enqueue(new_job(after=(later.id,)))
        broken = await claim_one(backend)
        error = JobError(type="ValueError", message="no", traceback="", attempt=1)
        await backend.finish([Outcome(lease=lease(broken), kind="failed", error=error)])
        done = await claim_one(backend)
        await backend.finish([Outcome(lease=lease(done), kind="completed")])
        await claim_one(backend)  # left running
        await backend.cancel((await backend.enqueue(new_job())).id)
        derived, plain = counted(path)
        assert derived == plain
        conn = sqlite3.connect(path)
        conn.execute("UPDATE underway_jobs SET held_until = ? WHERE id = ?", (1e10, parked.id))
        conn.commit()
        conn.close()
        derived, plain = counted(path)
        assert derived == plain
        assert set(plain) == {
            "pending",
            "scheduled",
            "running",
            "completed",
            "failed",
            "cancelled",
            "waiting",
        }
    finally:
        await backend.close()
