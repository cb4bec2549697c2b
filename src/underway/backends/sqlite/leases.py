"""The worker's side on SQLite: claim, heartbeat, progress, finish and requeue, all fenced."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence

from ...models import (
    ClaimedJob,
    JobState,
    Lease,
    Outcome,
    ProgressUpdate,
    WorkerInfo,
)
from ..codecs import data_to_json_text, error_to_data, json_text_to_data
from ..policy import LANE_SCAN, claim_order
from ..rows import claimed_from_row
from . import reads
from .manage import CANCELLED_BY_REQUEST, mark_cancelled

FENCE = "id = ? AND attempt = ? AND worker_id = ? AND state = 'running'"


READY_LANED = (
    "state IN ('pending', 'scheduled') AND lane IS NOT NULL AND run_at <= ? AND queue IN (QUEUES)"
)
RANKED_IN_LANES = f"""
WITH running AS (SELECT lane, count(*) AS n FROM underway_jobs
                 INDEXED BY underway_jobs_running_lanes
                 WHERE state = 'running' AND lane IS NOT NULL GROUP BY lane),
ready AS (SELECT seq, priority, run_at, lane, lane_limit FROM underway_jobs
          INDEXED BY underway_jobs_ready_laned WHERE {READY_LANED}
          ORDER BY priority DESC, run_at, seq LIMIT ?),
ranked AS (SELECT ready.*, row_number() OVER
           (PARTITION BY lane ORDER BY priority DESC, run_at, seq) AS rn FROM ready)
SELECT ranked.seq, ranked.priority, ranked.run_at FROM ranked
LEFT JOIN running ON running.lane = ranked.lane
WHERE ranked.rn <= ranked.lane_limit - coalesce(running.n, 0)
ORDER BY ranked.priority DESC, ranked.run_at, ranked.seq LIMIT ?
"""


def _laned_candidates(
    conn: sqlite3.Connection,
    queues: list[str],
    limit: int,
    now: float,
    after: tuple[float, float, int] | None,
) -> list[sqlite3.Row]:
    """The first ready jobs of lanes with free slots (as on PostgreSQL: see policy.LANE_SCAN).

    The first LANE_SCAN laned jobs in claim order are ranked first (each lane's earliest jobs
    are among them, so ranks are right). The whole backlog is ranked only if they give fewer
    than `limit`, more exist, and the first unscanned one could still be claimed before
    `after` (the claim key of the last plain job chosen, if the plain jobs fill the claim).
    """
    marks = ",".join("?" * len(queues))
    ranked = RANKED_IN_LANES.replace("QUEUES", marks)
    found = conn.execute(ranked, (now, *queues, LANE_SCAN, limit)).fetchall()
    if len(found) >= limit:
        return found
    unscanned = conn.execute(
        "SELECT priority, run_at, seq FROM underway_jobs INDEXED BY underway_jobs_ready_laned "
        f"WHERE {READY_LANED.replace('QUEUES', marks)} "
        "ORDER BY priority DESC, run_at, seq LIMIT 1 OFFSET ?",
        (now, *queues, LANE_SCAN),
    ).fetchone()
    if unscanned is None or (after is not None and claim_order(unscanned) > after):
        return found
    return conn.execute(ranked, (now, *queues, -1, limit)).fetchall()


def claim(
    conn: sqlite3.Connection,
    worker_id: str,
    queues: list[str],
    limit: int,
    now: float,
) -> list[ClaimedJob]:
    # Each queue's first jobs, walking its part of the ready index (INDEXED BY: without
    # statistics the planner would pick the state index and sort every pending row).
    plain = []
    for queue in queues:
        plain += conn.execute(
            "SELECT seq, priority, run_at FROM underway_jobs INDEXED BY underway_jobs_ready "
            "WHERE queue = ? AND state IN ('pending', 'scheduled') AND lane IS NULL "
            "AND run_at <= ? ORDER BY priority DESC, run_at, seq LIMIT ?",
            (queue, now, limit),
        ).fetchall()
    if len(queues) > 1:
        plain = sorted(plain, key=claim_order)[:limit]
    after = claim_order(plain[-1]) if len(plain) == limit else None
    laned = _laned_candidates(conn, queues, limit, now, after)
    chosen = sorted(plain + laned, key=claim_order)[:limit]
    if not chosen:
        return []
    seqs = [row["seq"] for row in chosen]
    rows = conn.execute(
        "UPDATE underway_jobs SET state = 'running', attempt = attempt + 1, worker_id = ?, "
        "started_at = ?, heartbeat_at = ?, progress = 0, message = NULL "
        f"WHERE seq IN ({','.join('?' * len(seqs))}) "
        "RETURNING seq, id, name, args, attempt, max_attempts",
        (worker_id, now, now, *seqs),
    ).fetchall()
    order = {seq: i for i, seq in enumerate(seqs)}
    return [
        claimed_from_row(row, json_text_to_data)
        for row in sorted(rows, key=lambda r: order[r["seq"]])
    ]


def heartbeat(
    conn: sqlite3.Connection,
    worker: WorkerInfo,
    leases: Sequence[Lease],
    now: float,
    max_age_s: float | None,
) -> set[str]:
    """Register the worker as alive, renew the leases it holds, report those not renewed."""
    conn.execute(
        "INSERT INTO underway_workers (id, hostname, pid, queues, concurrency, started_at, "
        "heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        (
            worker.id,
            worker.hostname,
            worker.pid,
            data_to_json_text(list(worker.queues)),
            worker.concurrency,
            worker.started_at.timestamp(),
            now,
        ),
    )
    renewed_after = -math.inf if max_age_s is None else now - max_age_s
    lost = set()
    for lease in leases:
        renewed = conn.execute(
            f"UPDATE underway_jobs SET heartbeat_at = ? WHERE {FENCE} AND heartbeat_at > ?",
            (now, lease.job_id, lease.attempt, worker.id, renewed_after),
        )
        if renewed.rowcount == 0:
            lost.add(lease.job_id)
    return lost


def save_progress(
    conn: sqlite3.Connection, updates: Sequence[ProgressUpdate], max_log_entries: int
) -> set[str]:
    """Write buffered progress and logs of the leases still held (a progress write renews no
    lease: only heartbeats do); return the ids of the others."""
    lost = set()
    for update in updates:
        lease = update.lease
        row = conn.execute(
            f"SELECT log_count FROM underway_jobs WHERE {FENCE}",
            (lease.job_id, lease.attempt, lease.worker_id),
        ).fetchone()
        if row is None:
            lost.add(lease.job_id)
            continue
        count = row["log_count"]
        kept = update.logs[: max(0, max_log_entries - count)]
        conn.executemany(
            "INSERT INTO underway_job_logs (job_id, seq, at, level, message) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (lease.job_id, count + i + 1, e.at.timestamp(), e.level, e.message)
                for i, e in enumerate(kept)
            ],
        )
        conn.execute(
            "UPDATE underway_jobs SET progress = coalesce(?, progress), "
            "message = coalesce(?, message), log_count = log_count + ?, "
            "logs_dropped = logs_dropped + ? WHERE id = ?",
            (
                update.progress,
                update.message,
                len(kept),
                len(update.logs) - len(kept) + update.dropped,
                lease.job_id,
            ),
        )
    return lost


#: A completed attempt in one statement; a cancel request that came in meanwhile wins.
COMPLETE = f"""
UPDATE underway_jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END,
    result = CASE WHEN cancel_requested THEN NULL ELSE ? END,
    error = CASE WHEN cancel_requested THEN ? END,
    progress = CASE WHEN cancel_requested THEN progress ELSE 100 END,
    finished_at = ?, expires_at = ? + retention_s
WHERE {FENCE}
"""


def finish_many(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float) -> list[bool]:
    """Record how attempts ended; for each, False if its lease was lost."""
    cancelled = data_to_json_text(error_to_data(CANCELLED_BY_REQUEST, now))
    held = []
    for outcome in outcomes:
        if outcome.kind == "completed":
            lease = outcome.lease
            result = data_to_json_text(outcome.result)
            fence = (lease.job_id, lease.attempt, lease.worker_id)
            held.append(conn.execute(COMPLETE, (result, cancelled, now, now, *fence)).rowcount == 1)
        else:
            held.append(_finish_other(conn, outcome, now))
    return held


def _finish_other(conn: sqlite3.Connection, outcome: Outcome, now: float) -> bool:
    """A failed, cancelled or retried attempt: its errors list grows."""
    lease = outcome.lease
    row = conn.execute(
        f"SELECT cancel_requested, retention_s, errors FROM underway_jobs WHERE {FENCE}",
        (lease.job_id, lease.attempt, lease.worker_id),
    ).fetchone()
    if row is None:
        return False
    kind = "cancelled" if row["cancel_requested"] else outcome.kind
    error = CANCELLED_BY_REQUEST if row["cancel_requested"] else outcome.error
    error_data = error_to_data(error, now)
    errors = reads.data(row["errors"]) or []
    if outcome.error is not None:
        errors.append(error_to_data(outcome.error, now))
    if kind == "retry":
        run_at = now + outcome.retry_delay_s
        state = JobState.SCHEDULED if outcome.retry_delay_s > 0 else JobState.PENDING
        conn.execute(
            "UPDATE underway_jobs SET state = ?, run_at = ?, worker_id = NULL, "
            "heartbeat_at = NULL, error = ?, errors = ? WHERE id = ?",
            (
                state.value,
                run_at,
                data_to_json_text(error_data),
                data_to_json_text(errors),
                lease.job_id,
            ),
        )
        return True
    conn.execute(
        "UPDATE underway_jobs SET state = ?, result = NULL, error = ?, errors = ?, "
        "finished_at = ?, expires_at = ? WHERE id = ?",
        (
            kind,
            None if error_data is None else data_to_json_text(error_data),
            data_to_json_text(errors),
            now,
            now + row["retention_s"],
            lease.job_id,
        ),
    )
    return True


def requeue_one(conn: sqlite3.Connection, lease: Lease, now: float) -> str:
    """The job's new state: pending, cancelled (a cancel was asked), or "" if the lease is gone."""
    row = conn.execute(
        f"SELECT cancel_requested, retention_s FROM underway_jobs WHERE {FENCE}",
        (lease.job_id, lease.attempt, lease.worker_id),
    ).fetchone()
    if row is None:
        return ""
    if row["cancel_requested"]:
        mark_cancelled(conn, lease.job_id, now, row["retention_s"])
        return "cancelled"
    # run_at is kept: a job handed back goes to the front of its queue, not behind the backlog.
    conn.execute(
        "UPDATE underway_jobs SET state = 'pending', attempt = attempt - 1, worker_id = NULL, "
        "heartbeat_at = NULL WHERE id = ?",
        (lease.job_id,),
    )
    return "pending"
