"""Holding leases on SQLite: heartbeats renew the leases a worker still holds, and progress
and logs are written only under a lease that holds."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from ...models import Lease, ProgressUpdate, WorkerInfo
from ..codecs import data_to_json_text

REGISTER_WORKER = """
INSERT INTO underway_workers (id, hostname, pid, queues, concurrency, started_at, heartbeat_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""
#: Renew one named lease (one statement each: SQLite binds no arrays, and a statement costs
#: no round trip), only while it still holds and was renewed after `renewed_after`: a
#: heartbeat that comes late revives no lease its worker has given up.
RENEW_LEASE = """
UPDATE underway_jobs SET heartbeat_at = :now
WHERE id = :id AND attempt = :attempt AND worker_id = :worker AND state = 'running'
  AND heartbeat_at > :renewed_after
"""
#: The row of a lease that still holds (the write transaction already holds the lock).
LOCK_HELD_LEASE = """
SELECT log_count FROM underway_jobs
WHERE id = :id AND attempt = :attempt AND worker_id = :worker AND state = 'running'
"""
ADD_LOG = """
INSERT INTO underway_job_logs (job_id, seq, at, level, message) VALUES (?, ?, ?, ?, ?)
"""
WRITE_PROGRESS = """
UPDATE underway_jobs SET progress = coalesce(?, progress), message = coalesce(?, message),
    log_count = log_count + ?, logs_dropped = logs_dropped + ?
WHERE id = ?
"""


def heartbeat(
    conn: sqlite3.Connection,
    worker: WorkerInfo,
    leases: Sequence[Lease],
    now: float,
    max_age_s: float | None,
) -> set[str]:
    """Register the worker as alive, renew the leases it holds, report those not renewed."""
    registration = (
        worker.id,
        worker.hostname,
        worker.pid,
        data_to_json_text(list(worker.queues)),
        worker.concurrency,
        worker.started_at.timestamp(),
        now,
    )
    conn.execute(REGISTER_WORKER, registration)
    renewed_after = -math.inf if max_age_s is None else now - max_age_s
    lost = set()
    for lease in leases:
        renewal = {**fence(lease), "worker": worker.id, "now": now, "renewed_after": renewed_after}
        if conn.execute(RENEW_LEASE, renewal).rowcount == 0:
            lost.add(lease.job_id)
    return lost


def save_progress(
    conn: sqlite3.Connection, updates: Sequence[ProgressUpdate], max_log_entries: int
) -> set[str]:
    """Write buffered progress and logs of the leases still held (a progress write renews no
    lease: only heartbeats do); return the ids of the others."""
    lost = set()
    for update in updates:
        if not _save_one(conn, update, max_log_entries):
            lost.add(update.lease.job_id)
    return lost


def _save_one(conn: sqlite3.Connection, update: ProgressUpdate, max_log_entries: int) -> bool:
    lease = update.lease
    row = conn.execute(LOCK_HELD_LEASE, fence(lease)).fetchone()
    if row is None:
        return False
    count = row["log_count"]
    kept = update.logs[: max(0, max_log_entries - count)]
    lines = [
        (lease.job_id, count + i + 1, e.at.timestamp(), e.level, e.message)
        for i, e in enumerate(kept)
    ]
    conn.executemany(ADD_LOG, lines)
    dropped = len(update.logs) - len(kept) + update.dropped
    conn.execute(
        WRITE_PROGRESS, (update.progress, update.message, len(kept), dropped, lease.job_id)
    )
    return True


def fence(lease: Lease) -> dict[str, Any]:
    """A lease as the parameters of a statement fenced on it."""
    return {"id": lease.job_id, "attempt": lease.attempt, "worker": lease.worker_id}
