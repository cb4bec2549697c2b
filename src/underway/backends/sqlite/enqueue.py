"""Storing new jobs on SQLite: plain jobs in one executemany per batch; jobs with an
idempotency key, a join/skip policy or a cron tick resolved as policy says; jobs that wait
for others stored with their edges, in the state their dependencies give them."""

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
from .. import dependency_rules, policy
from ..codecs import data_to_json_text, epoch_to_datetime, error_to_data
from . import dependencies, reads

#: One job, of any kind, returned as stored; an IntegrityError if its id, idempotency key,
#: cron tick or (join/skip) active fingerprint is taken.
INSERT = """
INSERT INTO underway_jobs (id, name, queue, priority, state, args, max_attempts,
    created_at, run_at, finished_at, fingerprint, unique_mode, lane, lane_limit, retention_s,
    expires_at, duplicate_of, skip_reason, idempotency_key, recurring_id, fire_at, rate_key,
    rate_limit, rate_window_s, rate_fixed, workflow_id, waiting_on, failed_dependencies,
    dependency_rule, tolerate, results_into, results_shape, error, trace_context)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
    ?, ?, ?, ?, ?)
RETURNING *
"""
#: The columns a batch of plain jobs writes, and the rate limit and trace columns, written
#: only in a batch with a rate-limited or traced job (binding them cost a bulk enqueue a
#: tenth of its speed).
PLAIN_COLUMNS = (
    "id, name, queue, priority, state, args, max_attempts, created_at, run_at, finished_at, "
    "fingerprint, unique_mode, lane, lane_limit, retention_s, expires_at, duplicate_of, "
    "skip_reason, idempotency_key, recurring_id, fire_at"
)
LIMIT_COLUMNS = "rate_key, rate_limit, rate_window_s, rate_fixed, trace_context"


def insert_of(columns: str) -> str:
    """An INSERT of one job's `columns`, each a parameter: a batch of plain jobs is one
    executemany of it (SQLite's inserts need no statement of their own per batch size, and
    their results need no read back)."""
    count = len(columns.split(","))
    return f"INSERT INTO underway_jobs ({columns}) VALUES ({', '.join('?' * count)})"


INSERT_PLAIN = insert_of(PLAIN_COLUMNS)
INSERT_PLAIN_LIMITED = insert_of(f"{PLAIN_COLUMNS}, {LIMIT_COLUMNS}")
#: The job of an active (or, with unique_for, recently completed) duplicate: of fingerprint
#: FINGERPRINT, completed at SINCE or later (`duplicates_since`).
DUPLICATE_OF = """
SELECT * FROM underway_jobs
WHERE fingerprint = FINGERPRINT AND unique_mode IN ('join', 'skip')
  AND (state IN ('pending', 'running', 'scheduled', 'waiting')
       OR (state = 'completed' AND finished_at >= SINCE))
ORDER BY (state = 'completed'), finished_at DESC
LIMIT 1
"""
ACTIVE_DUPLICATE = DUPLICATE_OF.replace("FINGERPRINT", "?").replace("SINCE", "?")
#: The runs of a unique="queue" job of fingerprint FINGERPRINT that wait.
WAITING_RUNS = """underway_jobs
WHERE fingerprint = FINGERPRINT AND unique_mode = 'queue' AND state IN ('pending', 'scheduled')"""
#: How many runs of a unique="queue" job wait with these arguments, and the first of them.
WAITING_SAME = "SELECT count(*) AS n, min(id) AS first FROM " + WAITING_RUNS.replace(
    "FINGERPRINT", "?"
)
BY_IDEMPOTENCY_KEY = "SELECT * FROM underway_jobs WHERE idempotency_key = ?"
SAME_TICK = "SELECT * FROM underway_jobs WHERE recurring_id = ? AND fire_at = ?"


def duplicates_since(unique_for_s: float | None, now: float) -> float:
    """DUPLICATE_OF's SINCE for a job's unique_for (None: only active jobs count)."""
    return now - unique_for_s if unique_for_s is not None else now + 1


def enqueue_plain(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult] | None:
    """Insert plain jobs (`NewJob.plain`) with one executemany; their results need no read
    back. None, with nothing stored, if one collided with a stored id (a retried call)."""
    params = []
    stored = []
    created = epoch_to_datetime(now)
    assert created is not None
    limited = any(job.rate_key is not None or job.trace_context is not None for job in jobs)
    for job in jobs:
        state, run_at, values = row_values(job, now)
        params.append((*values, *rate_values(job), job.trace_context) if limited else values)
        when = created if run_at == now else datetime.fromtimestamp(run_at, UTC)
        stored.append(EnqueueResult.inserted(job, state, created, when))
    conn.execute("SAVEPOINT plain")
    try:
        conn.executemany(INSERT_PLAIN_LIMITED if limited else INSERT_PLAIN, params)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO plain")
        return None
    finally:
        conn.execute("RELEASE plain")
    return stored


def enqueue_one(conn: sqlite3.Connection, job: NewJob, now: float) -> EnqueueResult:
    """Store one job, or find the job it resolves to (writers are serialised: no races); a
    job that waits for others is stored with its edges (JobNotFound for an unknown id), one
    stored as itself with its followers."""
    existing = _existing(conn, job, now)
    if existing is not None:
        return existing
    waits = None
    if job.after:
        waits = dependency_rules.waits_of(job, dependencies.states_of(conn, job.after))
    try:
        stored = insert(conn, job, now, waits=waits)
    except sqlite3.IntegrityError:
        conflict = _conflict(conn, job)
        if conflict is None:
            raise
        return conflict
    if waits is not None:
        dependencies.insert_edges(conn, [(job, waits)])
    for follower in job.followers:
        enqueue_one(conn, follower, now)
    return EnqueueResult(job=stored)


def _existing(conn: sqlite3.Connection, job: NewJob, now: float) -> EnqueueResult | None:
    """The stored job this request resolves to: same idempotency key, an active duplicate, or
    the runs that fill its queue_limit (with a `skipped` row recorded if the job asks for
    one)."""
    if job.idempotency_key is not None:
        keyed = reads.first(conn, BY_IDEMPOTENCY_KEY, (job.idempotency_key,))
        if keyed is not None:
            return policy.keyed_result(keyed)
    if policy.checks_queue_limit(job):
        waiting = conn.execute(WAITING_SAME, (job.fingerprint,)).fetchone()
        full = policy.queue_full_result(job, waiting["n"], waiting["first"])
        return None if full is None else record_skip(conn, job, now, full)
    if not policy.checks_duplicates(job):
        return None
    since = duplicates_since(job.unique_for_s, now)
    active = reads.first(conn, ACTIVE_DUPLICATE, (job.fingerprint, since))
    if active is None:
        return None
    decided = policy.duplicate_result(job, active)
    if isinstance(decided, EnqueueResult):
        return decided
    return record_skip(conn, job, now, decided)


def record_skip(
    conn: sqlite3.Connection, job: NewJob, now: float, skip: policy.RecordSkip
) -> EnqueueResult:
    """Store the request as a `skipped` row; if its cron tick is taken, that tick's job."""
    try:
        stored = insert(
            conn,
            job,
            now,
            state=JobState.SKIPPED,
            duplicate_of=skip.duplicate_of,
            reason=skip.reason,
        )
    except sqlite3.IntegrityError:
        tick = policy.conflict_result(None, _same_tick(conn, job))
        if tick is None:
            raise
        return tick
    return EnqueueResult(job=stored, skipped=True)


def _conflict(conn: sqlite3.Connection, job: NewJob) -> EnqueueResult | None:
    """What an insert collided with: this very job (a retried call) or the same cron tick."""
    same = reads.get(conn, job.id)
    return policy.conflict_result(same, None if same is not None else _same_tick(conn, job))


def _same_tick(conn: sqlite3.Connection, job: NewJob) -> Job | None:
    if job.recurring_id is None:
        return None
    return reads.first(conn, SAME_TICK, (job.recurring_id, timestamp(job.fire_at)))


def insert(
    conn: sqlite3.Connection,
    job: NewJob,
    now: float,
    *,
    state: JobState | None = None,
    duplicate_of: str | None = None,
    reason: str | None = None,
    waits: dependency_rules.Waits | None = None,
) -> Job:
    """Insert one job row and return it as stored; with `waits`, in the state they give."""
    if waits is not None:
        state, reason = start_of(waits)
    _, _, values = row_values(job, now, state, duplicate_of, reason)
    extra = dependency_values(job, waits, now)
    row = (*values, *rate_values(job), *extra, job.trace_context)
    return reads.job(conn.execute(INSERT, row).fetchone())


def rate_values(job: NewJob) -> tuple[Any, ...]:
    """The values of the rate limit columns of a new job's row."""
    return job.rate_key, job.rate_limit, job.rate_window_s, job.rate_fixed


#: The state a new job that waits for others is stored in, by verdict (None: as any job).
VERDICT_STATES: dict[str, JobState | None] = {
    "waiting": JobState.WAITING,
    "ready": None,
    "cancelled": JobState.CANCELLED,
    "skipped": JobState.SKIPPED,
}


def start_of(waits: dependency_rules.Waits | None) -> tuple[JobState | None, str | None]:
    """The state (None: as any job) and skip reason a job starts with, given its
    dependencies if it has any."""
    if waits is None:
        return None, None
    reason = dependency_rules.NONE_FAILED if waits.verdict == "skipped" else None
    return VERDICT_STATES[waits.verdict], reason


def dependency_values(
    job: NewJob, waits: dependency_rules.Waits | None, now: float
) -> tuple[Any, ...]:
    """The values of the dependency columns, then error, of a new job's row: a job stored
    without edges has no dependency rule."""
    error = None
    if waits is not None and waits.verdict == "cancelled":
        failed = dependency_rules.dependency_failed(waits.failed, job.tolerate)
        error = data_to_json_text(error_to_data(failed, now))
    return (
        job.workflow_id,
        0 if waits is None else waits.waiting_on,
        0 if waits is None else waits.failed,
        None if waits is None else job.dependency_rule,
        job.tolerate,
        job.results_into,
        job.results_shape,
        error,
    )


def row_values(
    job: NewJob,
    now: float,
    state: JobState | None = None,
    duplicate_of: str | None = None,
    reason: str | None = None,
) -> tuple[JobState, float, tuple[Any, ...]]:
    """A job's state, its run_at (epoch seconds) and the values of its INSERT row."""
    run_at = job.run_at.timestamp() if job.run_at is not None else now + job.delay_s
    if state is None:
        state = JobState.SCHEDULED if run_at > now else JobState.PENDING
    finished = now if state.is_finished else None
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
