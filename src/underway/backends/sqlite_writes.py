"""Write transactions of the SQLite backend: every job state transition, fenced by lease."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidStateError, JobNotFound
from ..models import (
    ClaimedJob,
    EnqueueResult,
    Job,
    JobError,
    JobState,
    Lease,
    NewJob,
    Outcome,
    ProgressUpdate,
    SweepResult,
    WorkerInfo,
)
from . import sqlite_reads as reads
from .rows import (
    claimed_from_row,
    data_to_json_text,
    epoch_to_datetime,
    error_to_data,
    json_text_to_data,
)

ACTIVE = "('scheduled', 'pending', 'running')"
FENCE = "id = ? AND attempt = ? AND worker_id = ? AND state = 'running'"
CANCELLED_BY_REQUEST = JobError(type="Cancelled", message="cancelled by request")
WORKER_LOST = "WorkerLost"


def enqueue_one(conn: sqlite3.Connection, job: NewJob, now: float) -> EnqueueResult:
    if job.idempotency_key is not None:
        existing = reads.get_by(conn, "idempotency_key = ?", (job.idempotency_key,))
        if existing is not None:
            return EnqueueResult(job=existing, joined=True)
    if job.unique in ("join", "skip"):
        active = _active_duplicate(conn, job, now)
        if active is not None:
            if job.unique == "join":
                return EnqueueResult(job=active, joined=True)
            if not job.record_skipped:
                return EnqueueResult(job=active, skipped=True)
            reason = f"job {active.id} with the same arguments is {active.state.value}"
            skipped = insert(
                conn, job, now, state=JobState.SKIPPED, duplicate_of=active.id, reason=reason
            )
            return EnqueueResult(job=skipped, skipped=True)
    try:
        stored = insert(conn, job, now)
    except sqlite3.IntegrityError:
        same = reads.get(conn, job.id)
        if same is not None:  # a retried call: the job it stored the first time
            return EnqueueResult(job=same, skipped=same.state is JobState.SKIPPED)
        tick = reads.get_by(
            conn, "recurring_id = ? AND fire_at = ?", (job.recurring_id, timestamp(job.fire_at))
        )
        if tick is None:
            raise
        return EnqueueResult(job=tick, joined=True)
    return EnqueueResult(job=stored)


def _active_duplicate(conn: sqlite3.Connection, job: NewJob, now: float) -> Job | None:
    window_start = now - job.unique_for_s if job.unique_for_s is not None else now + 1
    return reads.get_by(
        conn,
        f"fingerprint = ? AND unique_mode IN ('join', 'skip') AND (state IN {ACTIVE} "
        "OR (state = 'completed' AND finished_at >= ?)) "
        "ORDER BY (state = 'completed'), finished_at DESC",
        (job.fingerprint, window_start),
    )


INSERT_JOB = (
    "INSERT INTO underway_jobs (id, name, queue, priority, state, args, max_attempts, "
    "created_at, run_at, finished_at, fingerprint, unique_mode, lane, lane_limit, "
    "retention_s, expires_at, duplicate_of, skip_reason, idempotency_key, recurring_id, "
    "fire_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def enqueue_plain(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult] | None:
    """Insert plain jobs (`NewJob.plain`) with one executemany; their results need no read
    back. None, with nothing stored, if one collided with a stored id (a retried call)."""
    params = []
    stored = []
    created = epoch_to_datetime(now)
    assert created is not None
    for job in jobs:
        state, run_at, values = _row_values(job, now)
        params.append(values)
        when = created if run_at == now else datetime.fromtimestamp(run_at, UTC)
        stored.append(EnqueueResult.inserted(job, state, created, when))
    conn.execute("SAVEPOINT plain")
    try:
        conn.executemany(INSERT_JOB, params)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO plain")
        return None
    finally:
        conn.execute("RELEASE plain")
    return stored


def insert(
    conn: sqlite3.Connection,
    job: NewJob,
    now: float,
    *,
    state: JobState | None = None,
    duplicate_of: str | None = None,
    reason: str | None = None,
) -> Job:
    """Insert one job row and return it as stored."""
    _, _, values = _row_values(job, now, state, duplicate_of, reason)
    return reads.job(conn.execute(INSERT_JOB + " RETURNING *", values).fetchone())


def _row_values(
    job: NewJob,
    now: float,
    state: JobState | None = None,
    duplicate_of: str | None = None,
    reason: str | None = None,
) -> tuple[JobState, float, tuple[Any, ...]]:
    """A job's state, its run_at (epoch seconds) and the values of its INSERT_JOB row."""
    run_at = job.run_at.timestamp() if job.run_at is not None else now + job.delay_s
    if state is None:
        state = JobState.SCHEDULED if run_at > now else JobState.PENDING
    finished = now if state is JobState.SKIPPED else None
    values = (
        job.id,
        job.name,
        job.queue,
        job.priority,
        state.value,
        data_to_json_text(job.args),
        job.max_attempts,
        now,
        run_at,
        finished,
        job.fingerprint,
        job.unique,
        job.lane,
        job.lane_limit,
        job.retention_s,
        None if finished is None else now + job.retention_s,
        duplicate_of,
        reason,
        None if state is JobState.SKIPPED else job.idempotency_key,
        job.recurring_id,
        timestamp(job.fire_at),
    )
    return state, run_at, values


def timestamp(value: Any) -> float | None:
    return None if value is None else float(value.timestamp())


def must_get(conn: sqlite3.Connection, job_id: str) -> Job:
    job = reads.get(conn, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


#: Laned jobs first looked at per claim, in claim order; more only if these are all blocked.
LANE_SCAN = 500
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
    """The first ready jobs of lanes with free slots (as on PostgreSQL: see LANE_SCAN).

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
    if unscanned is None or (after is not None and _claim_key(unscanned) > after):
        return found
    return conn.execute(ranked, (now, *queues, -1, limit)).fetchall()


def _claim_key(row: sqlite3.Row) -> tuple[float, float, int]:
    return (-row["priority"], row["run_at"], row["seq"])


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
        plain = sorted(plain, key=_claim_key)[:limit]
    after = _claim_key(plain[-1]) if len(plain) == limit else None
    laned = _laned_candidates(conn, queues, limit, now, after)
    chosen = sorted(plain + laned, key=_claim_key)[:limit]
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
        _mark_cancelled(conn, lease.job_id, now, row["retention_s"])
        return "cancelled"
    # run_at is kept: a job handed back goes to the front of its queue, not behind the backlog.
    conn.execute(
        "UPDATE underway_jobs SET state = 'pending', attempt = attempt - 1, worker_id = NULL, "
        "heartbeat_at = NULL WHERE id = ?",
        (lease.job_id,),
    )
    return "pending"


def _mark_cancelled(conn: sqlite3.Connection, job_id: str, now: float, retention: float) -> None:
    conn.execute(
        "UPDATE underway_jobs SET state = 'cancelled', finished_at = ?, expires_at = ?, "
        "error = ? WHERE id = ?",
        (now, now + retention, data_to_json_text(error_to_data(CANCELLED_BY_REQUEST, now)), job_id),
    )


def cancel(conn: sqlite3.Connection, job_id: str, now: float) -> Job:
    job = must_get(conn, job_id)
    if job.state in (JobState.SCHEDULED, JobState.PENDING):
        _mark_cancelled(conn, job_id, now, job.retention_s)
    elif job.state is JobState.RUNNING:
        conn.execute("UPDATE underway_jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
    else:
        raise InvalidStateError(f"job {job_id} is already {job.state.value}; nothing to cancel")
    return must_get(conn, job_id)


def retry(conn: sqlite3.Connection, job_id: str, now: float) -> Job:
    job = must_get(conn, job_id)
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise InvalidStateError(
            f"job {job_id} is {job.state.value}; only failed or cancelled jobs can be retried"
        )
    try:
        conn.execute(
            "UPDATE underway_jobs SET state = 'pending', run_at = ?, finished_at = NULL, "
            "expires_at = NULL, cancel_requested = 0, worker_id = NULL, heartbeat_at = NULL, "
            "result = NULL, progress = 0, message = NULL, "
            "max_attempts = max(max_attempts, attempt + 1) WHERE id = ?",
            (now, job_id),
        )
    except sqlite3.IntegrityError:
        raise InvalidStateError(
            f"job {job_id} cannot be retried: another job with the same arguments is active"
        ) from None
    return must_get(conn, job_id)


def sweep(
    conn: sqlite3.Connection, stall_timeout_s: float, now: float
) -> tuple[SweepResult, list[str]]:
    """Stage due jobs, recover stalled ones, forget dead workers; also the ids that ended."""
    staged = conn.execute(
        "UPDATE underway_jobs INDEXED BY underway_jobs_scheduled SET state = 'pending' "
        "WHERE state = 'scheduled' AND run_at <= ?",
        (now,),
    ).rowcount
    stalled = conn.execute(
        "SELECT id, attempt, max_attempts, cancel_requested, retention_s, errors, worker_id "
        "FROM underway_jobs WHERE state = 'running' AND heartbeat_at < ?",
        (now - stall_timeout_s,),
    ).fetchall()
    counts = {"requeued": 0, "failed": 0, "cancelled": 0}
    ended = []
    for row in stalled:
        outcome = _recover_stalled(conn, row, now)
        counts[outcome] += 1
        if outcome != "requeued":
            ended.append(row["id"])
    conn.execute(
        "DELETE FROM underway_workers WHERE heartbeat_at < ?", (now - 10 * stall_timeout_s,)
    )
    return SweepResult(staged=staged, **counts), ended


def _recover_stalled(conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> str:
    if row["cancel_requested"]:
        _mark_cancelled(conn, row["id"], now, row["retention_s"])
        return "cancelled"
    error = JobError(
        type=WORKER_LOST,
        message=f"worker {row['worker_id']} stopped heartbeating during attempt {row['attempt']}",
        attempt=row["attempt"],
    )
    errors = [*(reads.data(row["errors"]) or []), error_to_data(error, now)]
    retry = row["attempt"] < row["max_attempts"]
    # run_at is kept, so a rescued job is claimed before the backlog (R5: bounded recovery).
    conn.execute(
        "UPDATE underway_jobs SET state = ?, worker_id = NULL, heartbeat_at = NULL, "
        "error = ?, errors = ?, finished_at = ?, expires_at = ? WHERE id = ?",
        (
            "pending" if retry else "failed",
            data_to_json_text(error_to_data(error, now)),
            data_to_json_text(errors),
            None if retry else now,
            None if retry else now + row["retention_s"],
            row["id"],
        ),
    )
    return "requeued" if retry else "failed"


def prune_batch(conn: sqlite3.Connection, batch_size: int, now: float) -> int:
    return int(
        conn.execute(
            "DELETE FROM underway_jobs WHERE seq IN (SELECT seq FROM underway_jobs "
            "WHERE expires_at <= ? LIMIT ?)",
            (now, batch_size),
        ).rowcount
    )
