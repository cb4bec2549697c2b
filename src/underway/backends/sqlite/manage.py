"""Managing jobs on SQLite: cancel, retry and delete, each one statement guarded by the
states it may change; a job that ends (or goes) is settled on what waits for it. A bulk
action applies them to a batch of jobs in one transaction. `SQLiteManage` holds the backend's
methods for them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ...errors import InvalidStateError, JobNotFound
from ...models import BulkAction, Job
from .. import policy
from ..base import Clock
from ..policy import NOBODY, Wakeups
from . import dependencies, reads
from .connection import SQLiteConnection
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
DELETE = "DELETE FROM underway_jobs WHERE id = ? RETURNING state"


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
    """Make a failed or cancelled job pending again (or waiting, if it waits for jobs not
    ended), unless a duplicate is active; those that wait for it wait for it again."""
    try:
        row = conn.execute(RETRY, (now, job_id)).fetchone()
    except sqlite3.IntegrityError:
        raise policy.duplicate_active(job_id) from None
    if row is not None:
        dependencies.uncount(conn, [job_id])
        return reads.job(row)
    job = _must_get(conn, job_id)
    raise policy.not_retryable(job)


def delete(conn: sqlite3.Connection, job_id: str, now: float) -> tuple[bool, Wakeups]:
    """Remove a job with its logs and edges; False if there was none. The edges to it keep
    how it ended; if it had not, those waiting for it count it as cancelled."""
    row = conn.execute(DELETE, (job_id,)).fetchone()
    if row is None:
        return False, NOBODY
    return True, dependencies.settle_gone(conn, job_id, row[0], now)


def apply_to_many(
    conn: sqlite3.Connection, action: BulkAction, job_ids: list[str], now: float
) -> tuple[list[str], list[Wakeups], list[Wakeups]]:
    """Retry, cancel or delete each of the jobs that may be, in the caller's one transaction;
    the ids changed, whom the changes wake and whom settling their dependants woke. A job in
    another state, or gone, is left as it is."""
    changed: list[str] = []
    woken: list[Wakeups] = []
    settled: list[Wakeups] = []
    for job_id in job_ids:
        try:
            told, settling = _apply(conn, action, job_id, now)
        except (InvalidStateError, JobNotFound):
            continue
        changed.append(job_id)
        woken += told
        settled += settling
    return changed, woken, settled


def _apply(
    conn: sqlite3.Connection, action: BulkAction, job_id: str, now: float
) -> tuple[list[Wakeups], list[Wakeups]]:
    if action == "retry":
        retry(conn, job_id, now)
        return [policy.NEW_WORK], []
    if action == "cancel":
        job, settled = cancel(conn, job_id, now)
        return [policy.after_cancel(job)], [settled]
    told: list[Wakeups] = []
    settling: list[Wakeups] = []
    if _must_get(conn, job_id).state.is_active:  # as App.delete: cancel it first
        job, settled = cancel(conn, job_id, now)
        told, settling = [policy.after_cancel(job)], [settled]
    deleted, settled = delete(conn, job_id, now)
    return [*told, policy.after_delete(job_id, deleted)], [*settling, settled]


def _must_get(conn: sqlite3.Connection, job_id: str) -> Job:
    job = reads.get(conn, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


class SQLiteManage:
    """The Backend's cancel, retry and delete on SQLite, one job or a batch (a part of
    SQLiteBackend)."""

    _db: SQLiteConnection
    _clock: Clock
    _announce: Callable[..., None]

    async def cancel(self, job_id: str) -> Job:
        now = self._clock.now()
        job, settled = await self._db.write(lambda c: cancel(c, job_id, now))
        self._announce(policy.after_cancel(job), settled)
        return job

    async def retry(self, job_id: str) -> Job:
        now = self._clock.now()
        job = await self._db.write(lambda c: retry(c, job_id, now))
        self._announce(policy.NEW_WORK)
        return job

    async def delete(self, job_id: str) -> bool:
        now = self._clock.now()
        deleted, settled = await self._db.write(lambda c: delete(c, job_id, now))
        self._announce(policy.after_delete(job_id, deleted), settled)
        return deleted

    async def apply_to_many(self, action: BulkAction, job_ids: list[str]) -> list[str]:
        now = self._clock.now()
        changed, woken, settled = await self._db.write(
            lambda c: apply_to_many(c, action, job_ids, now)
        )
        self._announce(*woken, *settled)
        return changed
