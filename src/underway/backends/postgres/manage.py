"""Managing jobs on PostgreSQL: cancel, retry and delete, each one statement guarded by the
states it may change."""

from __future__ import annotations

from psycopg import errors as pg_errors

from ...errors import JobNotFound
from ...models import Job
from .. import policy
from . import reads
from .finish import CANCELLED
from .tx import Tx

#: A waiting job is cancelled now; a running one is flagged for its worker to stop.
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
WHERE id = %(id)s AND state IN ('scheduled', 'pending', 'running')
RETURNING *
"""
RETRY = """
UPDATE {schema}.jobs SET state = 'pending', run_at = now(), finished_at = NULL,
    expires_at = NULL, cancel_requested = false, worker_id = NULL, heartbeat_at = NULL,
    result = NULL, progress = 0, message = NULL,
    max_attempts = greatest(max_attempts, attempt + 1)
WHERE id = %s AND state IN ('failed', 'cancelled')
RETURNING *
"""
DELETE = "DELETE FROM {schema}.jobs WHERE id = %s"


async def cancel(tx: Tx, job_id: str) -> Job:
    """Cancel a waiting job, or flag a running one for its worker to stop."""
    row = await tx.row(CANCEL, {"id": job_id, "cancelled": CANCELLED})
    if row is not None:
        return reads.job(row)
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


async def delete(tx: Tx, job_id: str) -> bool:
    """Remove a job with its logs; False if there was none."""
    return await tx.run(DELETE, (job_id,)) > 0


async def _must_get(tx: Tx, job_id: str) -> Job:
    job = await reads.get(tx, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job
