"""Managing jobs on SQLite: cancel, retry, recovering stalled jobs, pruning expired ones."""

from __future__ import annotations

import sqlite3

from ...errors import InvalidStateError, JobNotFound
from ...models import (
    Job,
    JobError,
    JobState,
    SweepResult,
)
from .. import policy
from ..codecs import data_to_json_text, error_to_data
from . import reads

CANCELLED_BY_REQUEST = JobError(type="Cancelled", message=policy.CANCELLED_BY_REQUEST)
WORKER_LOST = "WorkerLost"


def must_get(conn: sqlite3.Connection, job_id: str) -> Job:
    job = reads.get(conn, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


def mark_cancelled(conn: sqlite3.Connection, job_id: str, now: float, retention: float) -> None:
    conn.execute(
        "UPDATE underway_jobs SET state = 'cancelled', finished_at = ?, expires_at = ?, "
        "error = ? WHERE id = ?",
        (now, now + retention, data_to_json_text(error_to_data(CANCELLED_BY_REQUEST, now)), job_id),
    )


def cancel(conn: sqlite3.Connection, job_id: str, now: float) -> Job:
    job = must_get(conn, job_id)
    if job.state in (JobState.SCHEDULED, JobState.PENDING):
        mark_cancelled(conn, job_id, now, job.retention_s)
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
        mark_cancelled(conn, row["id"], now, row["retention_s"])
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
