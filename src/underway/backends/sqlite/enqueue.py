"""Storing jobs on SQLite: one job with its uniqueness resolved, or a batch of plain jobs."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...models import (
    EnqueueResult,
    Job,
    JobState,
    NewJob,
)
from ..codecs import data_to_json_text, epoch_to_datetime
from ..policy import ACTIVE
from . import reads


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
