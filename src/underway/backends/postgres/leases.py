"""Holding leases on PostgreSQL: heartbeats renew the leases a worker still holds, and
progress and logs are written only under a lease that holds.

Every statement finds a lease's row by its id and checks attempt, worker and state in one
CASE: as plain conditions, a generic plan could read all of the worker's running jobs through
jobs_running (its statistics taken while few ran), a cost that grew with the jobs it ran."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from ...models import Lease, ProgressUpdate, WorkerInfo
from .tx import Tx
from .values import clean_text

REGISTER_WORKER = """
INSERT INTO {schema}.workers (id, hostname, pid, queues, concurrency, started_at, heartbeat_at)
VALUES (%s, %s, %s, %s, %s, %s, now())
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""
#: Renew exactly the leases named, each only while it still holds and was renewed within
#: max_age_s: a heartbeat that reaches the database late (sent before a partition, delivered
#: after it) revives no lease its worker has given up.
RENEW_LEASES = """
UPDATE {schema}.jobs SET heartbeat_at = now()
FROM unnest(%(ids)s::text[], %(attempts)s::int[]) AS l(l_id, l_attempt)
WHERE id = l_id AND CASE WHEN attempt = l_attempt AND worker_id = %(worker)s
                          AND state = 'running'
                          AND (%(max_age)s::float8 IS NULL
                               OR heartbeat_at > now() - make_interval(secs => %(max_age)s::float8))
                     THEN true ELSE false END
RETURNING id, attempt
"""
#: The row of a lease that still holds, locked for a progress write.
LOCK_HELD_LEASE = """
SELECT log_count FROM {schema}.jobs
WHERE id = %(id)s AND CASE WHEN attempt = %(attempt)s AND worker_id = %(worker)s
                            AND state = 'running' THEN true ELSE false END
FOR UPDATE
"""
ADD_LOG = """
INSERT INTO {schema}.job_logs (job_id, seq, at, level, message) VALUES (%s, %s, %s, %s, %s)
"""
WRITE_PROGRESS = """
UPDATE {schema}.jobs SET progress = coalesce(%s, progress), message = coalesce(%s, message),
    log_count = log_count + %s, logs_dropped = logs_dropped + %s
WHERE id = %s
"""


async def heartbeat(
    tx: Tx, worker: WorkerInfo, leases: Sequence[Lease], max_age_s: float | None
) -> set[str]:
    """Register the worker as alive, renew the leases it holds, report those not renewed."""
    registration = (
        worker.id,
        worker.hostname,
        worker.pid,
        Jsonb(list(worker.queues)),
        worker.concurrency,
        worker.started_at,
    )
    await tx.run(REGISTER_WORKER, registration)
    if not leases:
        return set()
    # In id order, so that two heartbeats never lock the same rows in opposite orders.
    ordered = sorted(leases, key=lambda lease: lease.job_id)
    rows = await tx.rows(
        RENEW_LEASES,
        {
            "ids": [lease.job_id for lease in ordered],
            "attempts": [lease.attempt for lease in ordered],
            "worker": worker.id,
            "max_age": max_age_s,
        },
    )
    renewed = {(row["id"], row["attempt"]) for row in rows}
    return {lease.job_id for lease in leases if (lease.job_id, lease.attempt) not in renewed}


async def save_progress(tx: Tx, update: ProgressUpdate, max_log_entries: int) -> bool:
    """Write one attempt's buffered progress and logs; False if its lease is gone. It renews
    no lease: only heartbeats do, so that a late write cannot revive a lease given up."""
    lease = update.lease
    row = await tx.row(LOCK_HELD_LEASE, fence(lease))
    if row is None:
        return False
    count = row["log_count"]
    kept = update.logs[: max(0, max_log_entries - count)]
    lines = [
        (lease.job_id, count + i + 1, e.at, clean_text(e.level), clean_text(e.message))
        for i, e in enumerate(kept)
    ]
    await tx.many(ADD_LOG, lines)
    dropped = len(update.logs) - len(kept) + update.dropped
    progress = (update.progress, clean_text(update.message), len(kept), dropped, lease.job_id)
    await tx.run(WRITE_PROGRESS, progress)
    return True


def fence(lease: Lease) -> dict[str, Any]:
    """A lease as the parameters of a statement fenced on it."""
    return {"id": lease.job_id, "attempt": lease.attempt, "worker": lease.worker_id}
