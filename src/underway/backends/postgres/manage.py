"""Management and upkeep on PostgreSQL: cancel, retry, sweep stalled jobs, prune, migrate."""

from __future__ import annotations

from psycopg import errors as pg_errors

from ...errors import InvalidStateError, JobNotFound
from ...models import Job, SweepResult
from ..migrations import migration_scripts
from . import reads
from .leases import CANCELLED_ERROR, NOW_EPOCH
from .tx import Tx

CANCEL = f"""
UPDATE {{schema}}.jobs SET
    cancel_requested = cancel_requested OR state = 'running',
    state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
    finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END,
    expires_at = CASE WHEN state = 'running' THEN expires_at
                      ELSE now() + make_interval(secs => retention_s) END,
    error = CASE WHEN state = 'running' THEN error ELSE {CANCELLED_ERROR} END
WHERE id = %s AND state IN ('scheduled', 'pending', 'running')
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

#: Jobs whose worker stopped heartbeating: cancelled if asked, else retried or failed.
#: run_at is kept, so a rescued job is claimed before the backlog (R5: bounded recovery).
RECOVER_STALLED = f"""
UPDATE {{schema}}.jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled'
                 WHEN attempt < max_attempts THEN 'pending' ELSE 'failed' END,
    worker_id = CASE WHEN cancel_requested THEN worker_id END,
    heartbeat_at = CASE WHEN cancel_requested THEN heartbeat_at END,
    error = CASE WHEN cancel_requested THEN {CANCELLED_ERROR} ELSE s.lost END,
    errors = CASE WHEN cancel_requested THEN errors ELSE errors || jsonb_build_array(s.lost) END,
    finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN now() END,
    expires_at = CASE WHEN cancel_requested OR attempt >= max_attempts
                      THEN now() + make_interval(secs => retention_s) END
FROM (
    SELECT id, jsonb_build_object('type', 'WorkerLost', 'message',
        'worker ' || coalesce(worker_id, '?') || ' stopped heartbeating during attempt '
        || attempt, 'traceback', '', 'attempt', attempt, 'at', {NOW_EPOCH}) AS lost
    FROM {{schema}}.jobs
    WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => %s)
    FOR UPDATE SKIP LOCKED
) s
WHERE jobs.id = s.id AND jobs.state = 'running'
RETURNING jobs.id, jobs.state
"""


async def cancel(tx: Tx, job_id: str) -> Job:
    """Cancel a waiting job, or flag a running one for its worker to stop."""
    row = await tx.row(CANCEL, (job_id,))
    if row is not None:
        return reads.job(row)
    job = await _must_get(tx, job_id)
    raise InvalidStateError(f"job {job_id} is already {job.state.value}; nothing to cancel")


async def retry(tx: Tx, job_id: str) -> Job:
    """Make a failed or cancelled job pending again, unless a duplicate is active."""
    try:
        async with tx.savepoint():
            row = await tx.row(RETRY, (job_id,))
    except pg_errors.UniqueViolation:
        raise InvalidStateError(
            f"job {job_id} cannot be retried: another job with the same arguments is active"
        ) from None
    if row is not None:
        return reads.job(row)
    job = await _must_get(tx, job_id)
    raise InvalidStateError(
        f"job {job_id} is {job.state.value}; only failed or cancelled jobs can be retried"
    )


async def _must_get(tx: Tx, job_id: str) -> Job:
    job = await reads.get(tx, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


async def sweep(tx: Tx, stall_timeout_s: float) -> tuple[SweepResult, list[str]]:
    """Stage due jobs, recover stalled ones, forget dead workers; also the ids that ended."""
    staged = await tx.run(
        "UPDATE {schema}.jobs SET state = 'pending' WHERE state = 'scheduled' AND run_at <= now()"
    )
    recovered = await tx.rows(RECOVER_STALLED, (float(stall_timeout_s),))
    states = [row["state"] for row in recovered]
    await tx.run(
        "DELETE FROM {schema}.workers WHERE heartbeat_at < now() - make_interval(secs => %s)",
        (10 * float(stall_timeout_s),),
    )
    result = SweepResult(
        staged=staged,
        requeued=states.count("pending"),
        failed=states.count("failed"),
        cancelled=states.count("cancelled"),
    )
    return result, [row["id"] for row in recovered if row["state"] != "pending"]


#: Expired jobs, a batch at a time; `= ANY(ARRAY(...))` keeps a generic plan on the id's
#: index (an `IN (...)` join could hash the whole table, not knowing the LIMIT).
PRUNE_EXPIRED = (
    "DELETE FROM {schema}.jobs WHERE id = ANY(ARRAY(SELECT id FROM {schema}.jobs "
    "WHERE expires_at <= now() LIMIT %s FOR UPDATE SKIP LOCKED))"
)


async def prune_batch(tx: Tx, batch_size: int) -> int:
    return await tx.run(PRUNE_EXPIRED, (batch_size,))


async def apply_migrations(tx: Tx) -> list[str]:
    """Apply pending migrations; an advisory lock makes concurrent starts take turns."""
    await tx.run(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"underway:migrate:{tx.schema}",)
    )
    await tx.run("CREATE SCHEMA IF NOT EXISTS {schema}")
    await tx.run(
        "CREATE TABLE IF NOT EXISTS {schema}.migrations "
        "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {row["version"] for row in await tx.rows("SELECT version FROM {schema}.migrations")}
    applied = []
    for version, script in migration_scripts("underway.backends.postgres"):
        if version in done:
            continue
        await tx.run(script)
        await tx.run("INSERT INTO {schema}.migrations (version) VALUES (%s)", (version,))
        applied.append(version)
    return applied
