"""Managing jobs on PostgreSQL: cancel, retry and delete, each one statement guarded by the
states it may change; a job that ends (or goes) is settled on what waits for it."""

from __future__ import annotations

from psycopg import errors as pg_errors

from ...errors import JobNotFound
from ...models import Job
from .. import policy
from ..policy import NOBODY, Wakeups
from . import dependencies, reads
from .finish import CANCELLED
from .tx import Tx

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
#: A job and its own edges (its logs go with it).
DELETE = """
WITH edges AS (DELETE FROM {schema}.dependencies WHERE job_id = %(id)s)
DELETE FROM {schema}.jobs WHERE id = %(id)s
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
    """Make a failed or cancelled job pending again, unless a duplicate is active."""
    try:
        async with tx.savepoint():
            row = await tx.row(RETRY, (job_id,))
    except pg_errors.UniqueViolation:
        raise policy.duplicate_active(job_id) from None
    if row is not None:
        return reads.job(row)
    job = await _must_get(tx, job_id)
    raise policy.not_retryable(job)


async def delete(tx: Tx, job_id: str) -> tuple[bool, Wakeups]:
    """Remove a job with its logs and edges; False if there was none. Those still waiting
    on it count it as cancelled."""
    if await tx.run(DELETE, {"id": job_id}) == 0:
        return False, NOBODY
    return True, await dependencies.settle(tx, [job_id])


async def _must_get(tx: Tx, job_id: str) -> Job:
    job = await reads.get(tx, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job
