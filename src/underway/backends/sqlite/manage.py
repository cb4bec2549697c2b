"""Managing jobs on SQLite: cancel, retry and delete, each one statement guarded by the
states it may change; a job that ends (or goes) is settled on what waits for it."""

from __future__ import annotations

import sqlite3

from ...errors import JobNotFound
from ...models import Job
from .. import policy
from ..policy import NOBODY, Wakeups
from . import dependencies, reads
from .finish import cancelled_error

#: A job not running yet is cancelled now; a running one is flagged for its worker to stop.
CANCEL = """
UPDATE underway_jobs SET
    cancel_requested = cancel_requested OR state = 'running',
    state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
    finished_at = CASE WHEN state = 'running' THEN finished_at ELSE :now END,
    expires_at = CASE WHEN state = 'running' THEN expires_at ELSE :now + retention_s END,
    error = CASE WHEN state = 'running' THEN error ELSE :cancelled END
WHERE id = :id AND state IN ('waiting', 'scheduled', 'pending', 'running')
RETURNING *
"""
#: A job cancelled before the jobs it depends on ended waits for them again.
RETRY = """
UPDATE underway_jobs SET state = CASE WHEN waiting_on > 0 THEN 'waiting' ELSE 'pending' END,
    run_at = ?, finished_at = NULL,
    expires_at = NULL, cancel_requested = 0, worker_id = NULL, heartbeat_at = NULL,
    result = NULL, progress = 0, message = NULL,
    max_attempts = max(max_attempts, attempt + 1)
WHERE id = ? AND state IN ('failed', 'cancelled')
RETURNING *
"""
DELETE = "DELETE FROM underway_jobs WHERE id = ?"


def cancel(conn: sqlite3.Connection, job_id: str, now: float) -> tuple[Job, Wakeups]:
    """Cancel a job not running yet (and settle it), or flag a running one for its worker
    to stop."""
    params = {"id": job_id, "now": now, "cancelled": cancelled_error(now)}
    row = conn.execute(CANCEL, params).fetchone()
    if row is not None:
        job = reads.job(row)
        return job, dependencies.settle(conn, [job_id], now) if job.state.is_finished else NOBODY
    job = _must_get(conn, job_id)
    raise policy.not_cancellable(job)


def retry(conn: sqlite3.Connection, job_id: str, now: float) -> Job:
    """Make a failed or cancelled job pending again, unless a duplicate is active."""
    try:
        row = conn.execute(RETRY, (now, job_id)).fetchone()
    except sqlite3.IntegrityError:
        raise policy.duplicate_active(job_id) from None
    if row is not None:
        return reads.job(row)
    job = _must_get(conn, job_id)
    raise policy.not_retryable(job)


def delete(conn: sqlite3.Connection, job_id: str, now: float) -> tuple[bool, Wakeups]:
    """Remove a job with its logs and edges; False if there was none. Those still waiting
    on it count it as cancelled."""
    if int(conn.execute(DELETE, (job_id,)).rowcount) == 0:
        return False, NOBODY
    return True, dependencies.settle_deleted(conn, job_id, now)


def _must_get(conn: sqlite3.Connection, job_id: str) -> Job:
    job = reads.get(conn, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job
