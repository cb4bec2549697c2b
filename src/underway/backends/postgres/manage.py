"""Managing jobs on PostgreSQL: cancel, retry and delete, each one statement guarded by the
states it may change; a job that ends (or goes) is settled on what waits for it. A bulk
action applies them to a batch of jobs in one transaction. `PostgresManage` holds the
backend's methods for them."""

from __future__ import annotations

from functools import reduce

from psycopg import errors as pg_errors

from ...errors import InvalidStateError, JobNotFound
from ...models import BulkAction, Job, JobState
from .. import policy
from ..notifier import LocalNotifier
from ..policy import NOBODY, Wakeups
from . import dependencies, reads
from .connection import PostgresPool
from .dependencies import merged
from .finish import CANCELLED
from .tx import Tx
from .values import NUL, must_name_a_job
from .wakeups import send_wakeups

#: A job not running yet is cancelled now; a running one is flagged for its worker to stop.
CANCEL = """
UPDATE {schema}.jobs SET
    cancel_requested = cancel_requested OR state = 'running',
    state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
    finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END,
    expires_at = CASE WHEN state = 'running' THEN expires_at
                      ELSE now() + make_interval(secs => retention_s) END,
    error = CASE WHEN state = 'running' THEN error
                 ELSE %(cancelled)s::jsonb
                      || jsonb_build_object('at', extract(epoch FROM now())::float8) END
WHERE id = %(id)s AND state IN ('waiting', 'scheduled', 'pending', 'running')
RETURNING *
"""
#: A job cancelled before the jobs it depends on ended waits for them again.
RETRY = """
UPDATE {schema}.jobs SET state = CASE WHEN waiting_on > 0 THEN 'waiting' ELSE 'pending' END,
    run_at = now(), finished_at = NULL,
    expires_at = NULL, cancel_requested = false, worker_id = NULL, heartbeat_at = NULL,
    result = NULL, progress = 0, message = NULL,
    max_attempts = greatest(max_attempts, attempt + 1)
WHERE id = %s AND state IN ('failed', 'cancelled')
RETURNING *
"""
#: A job and its own edges (its logs go with it); the state it was in.
DELETE = """
WITH edges AS (DELETE FROM {schema}.dependencies WHERE job_id = %(id)s)
DELETE FROM {schema}.jobs WHERE id = %(id)s RETURNING state
"""


async def cancel(tx: Tx, job_id: str) -> tuple[Job, Wakeups]:
    """Cancel a job not running yet (and settle it), or flag a running one for its worker
    to stop; whom settling wakes."""
    row = await tx.row(CANCEL, {"id": job_id, "cancelled": CANCELLED})
    if row is not None:
        job = reads.job(row)
        return job, await dependencies.settle(tx, [job_id]) if job.state.is_finished else NOBODY
    job = await _must_get(tx, job_id)
    raise policy.not_cancellable(job)


async def retry(tx: Tx, job_id: str) -> Job:
    """Make a failed or cancelled job pending again (or waiting, if it waits for jobs not
    ended), unless a duplicate is active; those that wait for it wait for it again."""
    try:
        async with tx.savepoint():
            row = await tx.row(RETRY, (job_id,))
    except pg_errors.UniqueViolation:
        raise policy.duplicate_active(job_id) from None
    if row is not None:
        await dependencies.uncount(tx, [job_id])
        return reads.job(row)
    job = await _must_get(tx, job_id)
    raise policy.not_retryable(job)


async def delete(tx: Tx, job_id: str) -> tuple[bool, Wakeups]:
    """Remove a job with its logs and edges; False if there was none. The edges to it keep
    how it ended; if it had not, those waiting for it count it as cancelled."""
    row = await tx.row(DELETE, {"id": job_id})
    if row is None:
        return False, NOBODY
    await dependencies.keep_ended(tx, job_id, row["state"])
    if JobState(row["state"]).is_finished:
        return True, NOBODY
    return True, await dependencies.settle(tx, [job_id])


async def apply_to_many(
    tx: Tx, action: BulkAction, job_ids: list[str]
) -> tuple[list[str], list[Wakeups], list[Wakeups]]:
    """Retry, cancel or delete each of the jobs that may be, in the caller's one transaction;
    the ids changed, whom the changes wake and whom settling their dependants woke. A job in
    another state, or gone, is left as it is."""
    changed: list[str] = []
    woken: list[Wakeups] = []
    settled: list[Wakeups] = []
    for job_id in job_ids:
        try:
            told, settling = await _apply(tx, action, job_id)
        except (InvalidStateError, JobNotFound):
            continue
        changed.append(job_id)
        woken += told
        settled += settling
    return changed, woken, settled


async def _apply(tx: Tx, action: BulkAction, job_id: str) -> tuple[list[Wakeups], list[Wakeups]]:
    if action == "retry":
        await retry(tx, job_id)
        return [policy.NEW_WORK], []
    if action == "cancel":
        job, settled = await cancel(tx, job_id)
        return [policy.after_cancel(job)], [settled]
    told: list[Wakeups] = []
    settling: list[Wakeups] = []
    if (await _must_get(tx, job_id)).state.is_active:  # as App.delete: cancel it first
        job, settled = await cancel(tx, job_id)
        told, settling = [policy.after_cancel(job)], [settled]
    deleted, settled = await delete(tx, job_id)
    return [*told, policy.after_delete(job_id, deleted)], [*settling, settled]


async def _must_get(tx: Tx, job_id: str) -> Job:
    job = await reads.get(tx, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


class PostgresManage:
    """The Backend's cancel, retry and delete on PostgreSQL, one job or a batch (a part of
    PostgresBackend)."""

    _pool: PostgresPool
    _notifier: LocalNotifier

    async def cancel(self, job_id: str) -> Job:
        must_name_a_job(job_id)

        async def cancel_in(tx: Tx) -> tuple[Job, Wakeups]:
            job, settled = await cancel(tx, job_id)
            return job, merged(await send_wakeups(tx, policy.after_cancel(job)), settled)

        job, wakeups = await self._pool.transaction(cancel_in)
        self._notifier.announce(wakeups)
        return job

    async def retry(self, job_id: str) -> Job:
        must_name_a_job(job_id)

        async def retry_in(tx: Tx) -> Job:
            job = await retry(tx, job_id)
            await send_wakeups(tx, policy.NEW_WORK)
            return job

        job = await self._pool.transaction(retry_in)
        self._notifier.announce(policy.NEW_WORK)
        return job

    async def delete(self, job_id: str) -> bool:
        if NUL in job_id:
            return False

        async def delete_in(tx: Tx) -> tuple[bool, Wakeups]:
            deleted, settled = await delete(tx, job_id)
            told = await send_wakeups(tx, policy.after_delete(job_id, deleted))
            return deleted, merged(told, settled)

        deleted, wakeups = await self._pool.transaction(delete_in)
        self._notifier.announce(wakeups)
        return deleted

    async def apply_to_many(self, action: BulkAction, job_ids: list[str]) -> list[str]:
        job_ids = [job_id for job_id in job_ids if NUL not in job_id]

        async def apply(tx: Tx) -> tuple[list[str], Wakeups]:
            changed, woken, settled = await apply_to_many(tx, action, job_ids)
            told = await send_wakeups(tx, reduce(merged, woken, policy.NOBODY))
            return changed, reduce(merged, settled, told)

        changed, wakeups = await self._pool.transaction(apply)
        self._notifier.announce(wakeups)
        return changed
