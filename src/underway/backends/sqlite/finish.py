"""Ending attempts on SQLite: outcomes recorded in fenced statements with the target state
policy chose (a cancel request that came in meanwhile wins), and running jobs handed back on
shutdown; the jobs that ended are settled on what waits for them in the same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pydantic_core import to_json

from ...models import JobState, Lease, Outcome
from .. import policy
from ..codecs import data_to_json_text, error_to_data
from ..policy import Wakeups
from . import dependencies
from .leases import fence

COMPLETED = JobState.COMPLETED

#: One outcome, fenced on its lease (one statement each: other outcomes than completions are
#: few, and a statement costs no round trip). Its parameters, numbered: ?1 job id, ?2 attempt,
#: ?3 worker, ?4 policy's target state, ?5 retry delay, ?6 result, ?7 error, ?8 the error a
#: cancel request records instead, ?9 now, ?10 whether the attempt spends none of the job's
#: attempts (a snooze).
FINISH = """
UPDATE underway_jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE ?4 END,
    max_attempts = CASE WHEN ?10 AND NOT cancel_requested
                        THEN max_attempts + 1 ELSE max_attempts END,
    snoozes = CASE WHEN ?10 AND NOT cancel_requested THEN snoozes + 1 ELSE snoozes END,
    run_at = CASE WHEN ?4 IN ('pending', 'scheduled') AND NOT cancel_requested
                  THEN ?9 + ?5 ELSE run_at END,
    worker_id = CASE WHEN ?4 IN ('pending', 'scheduled') AND NOT cancel_requested
                     THEN NULL ELSE worker_id END,
    heartbeat_at = CASE WHEN ?4 IN ('pending', 'scheduled') AND NOT cancel_requested
                        THEN NULL ELSE heartbeat_at END,
    result = CASE WHEN ?4 = 'completed' AND NOT cancel_requested THEN ?6 END,
    error = CASE WHEN cancel_requested THEN ?8 ELSE ?7 END,
    errors = CASE WHEN ?7 IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(?7)) END,
    progress = CASE WHEN ?4 = 'completed' AND NOT cancel_requested THEN 100 ELSE progress END,
    finished_at = CASE WHEN ?4 IN ('pending', 'scheduled') AND NOT cancel_requested
                       THEN finished_at ELSE ?9 END,
    expires_at = CASE WHEN ?4 IN ('pending', 'scheduled') AND NOT cancel_requested
                      THEN expires_at ELSE ?9 + retention_s END
WHERE id = ?1 AND attempt = ?2 AND worker_id = ?3 AND state = 'running'
"""
#: FINISH for the commonest outcome, a completed attempt, with what it leaves as it is left
#: out: ?1 job id, ?2 attempt, ?3 worker, ?4 result, ?5 the error a cancel request records
#: instead, ?6 now.
COMPLETE = """
UPDATE underway_jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END,
    result = CASE WHEN cancel_requested THEN NULL ELSE ?4 END,
    error = CASE WHEN cancel_requested THEN ?5 END,
    progress = CASE WHEN cancel_requested THEN progress ELSE 100 END,
    finished_at = ?6, expires_at = ?6 + retention_s
WHERE id = ?1 AND attempt = ?2 AND worker_id = ?3 AND state = 'running'
"""
#: COMPLETE for all the completed attempts of a batch in one statement: one step, so that
#: the writer thread gives up the interpreter's lock once, not once per job. ?1 a JSON array
#: of [job id, attempt, worker, result] arrays, ?2 the error a cancel request records
#: instead, ?3 now. The unary plus keeps the planner off the state index: each job is found
#: by its id.
COMPLETE_MANY = """
UPDATE underway_jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'completed' END,
    result = CASE WHEN cancel_requested THEN NULL ELSE done.result END,
    error = CASE WHEN cancel_requested THEN ?2 END,
    progress = CASE WHEN cancel_requested THEN progress ELSE 100 END,
    finished_at = ?3, expires_at = ?3 + retention_s
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS attempt,
             json_extract(value, '$[2]') AS worker_id, json_extract(value, '$[3]') AS result
      FROM json_each(?1)) AS done
WHERE underway_jobs.id = done.id AND underway_jobs.attempt = done.attempt
  AND underway_jobs.worker_id = done.worker_id AND +underway_jobs.state = 'running'
"""
#: A job handed back without counting its attempt, run_at kept so that it goes to the front
#: of its queue; cancelled instead if a cancel was asked.
REQUEUE = """
UPDATE underway_jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END,
    attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt - 1 END,
    worker_id = CASE WHEN cancel_requested THEN worker_id END,
    heartbeat_at = CASE WHEN cancel_requested THEN heartbeat_at END,
    finished_at = CASE WHEN cancel_requested THEN :now END,
    expires_at = CASE WHEN cancel_requested THEN :now + retention_s END,
    error = CASE WHEN cancel_requested THEN :cancelled ELSE error END
WHERE id = :id AND attempt = :attempt AND worker_id = :worker AND state = 'running'
RETURNING state
"""


def finish_many(
    conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float
) -> tuple[list[bool], Wakeups]:
    """Record how attempts ended, each in the state policy chose; for each, False if its
    lease was lost; and whom settling the jobs that ended wakes. Completions go in one
    statement; if it misses a lease, it is undone and each outcome is written on its own,
    to learn which."""
    cancelled = cancelled_error(now)
    states = [policy.outcome_state(outcome) for outcome in outcomes]
    completed = [o for o, state in zip(outcomes, states, strict=True) if state is COMPLETED]
    all_completed = len(completed) > 1 and _complete_all(conn, completed, cancelled, now)
    held = [
        (all_completed and state is COMPLETED) or _finish_one(conn, o, state, cancelled, now)
        for o, state in zip(outcomes, states, strict=True)
    ]
    written = [o.lease.job_id for o, ok in zip(outcomes, held, strict=True) if ok]
    return held, dependencies.settle(conn, written, now)


def _complete_all(
    conn: sqlite3.Connection, completed: list[Outcome], cancelled: str, now: float
) -> bool:
    """Record these completions in one statement if every lease is held; else nothing."""
    batch = to_json([(*_fenced(o.lease), data_to_json_text(o.result)) for o in completed]).decode()
    conn.execute("SAVEPOINT complete_all")
    changed = conn.execute(COMPLETE_MANY, (batch, cancelled, now)).rowcount
    if changed != len(completed):
        conn.execute("ROLLBACK TO complete_all")
    conn.execute("RELEASE complete_all")
    return changed == len(completed)


def _finish_one(
    conn: sqlite3.Connection, outcome: Outcome, state: JobState, cancelled: str, now: float
) -> bool:
    lease = outcome.lease
    result = data_to_json_text(outcome.result)
    if state is COMPLETED:
        params: tuple[object, ...] = (*_fenced(lease), result, cancelled, now)
        return bool(conn.execute(COMPLETE, params).rowcount == 1)
    params = _finish_params(outcome, state, result, cancelled, now)
    return bool(conn.execute(FINISH, params).rowcount == 1)


def _fenced(lease: Lease) -> tuple[str, int, str]:
    return lease.job_id, lease.attempt, lease.worker_id


def _finish_params(
    outcome: Outcome, state: JobState, result: str, cancelled: str, now: float
) -> tuple[object, ...]:
    lease = outcome.lease
    error = error_to_data(outcome.error, now)
    return (
        lease.job_id,
        lease.attempt,
        lease.worker_id,
        state.value,
        outcome.retry_delay_s,
        result,
        None if error is None else data_to_json_text(error),
        cancelled,
        now,
        policy.spends_no_attempt(outcome),
    )


def requeue_many(
    conn: sqlite3.Connection, leases: Sequence[Lease], now: float
) -> tuple[list[str], Wakeups]:
    """Each job's new state (`requeue_one`), and whom settling those cancelled wakes."""
    states = [requeue_one(conn, lease, now) for lease in leases]
    cancelled = [
        lease.job_id for lease, state in zip(leases, states, strict=True) if state == "cancelled"
    ]
    return states, dependencies.settle(conn, cancelled, now)


def requeue_one(conn: sqlite3.Connection, lease: Lease, now: float) -> str:
    """The job's new state: pending, cancelled (a cancel was asked), or "" if the lease is gone."""
    params = {**fence(lease), "now": now, "cancelled": cancelled_error(now)}
    row = conn.execute(REQUEUE, params).fetchone()
    return "" if row is None else str(row["state"])


def cancelled_error(now: float) -> str:
    """policy.CANCELLED as stored JSON text, at `now`."""
    return data_to_json_text(error_to_data(policy.CANCELLED, now))
