"""Upkeep on SQLite: staging due jobs, recovering the jobs of workers that stopped
heartbeating (policy decides what each becomes), forgetting dead workers, pruning."""

from __future__ import annotations

import sqlite3

from ...models import JobState, SweepResult
from .. import policy
from ..codecs import data_to_json_text, error_to_data

STAGE_DUE = """
UPDATE underway_jobs INDEXED BY underway_jobs_scheduled SET state = 'pending'
WHERE state = 'scheduled' AND run_at <= ?
"""
#: Running jobs whose last heartbeat is older than the stall timeout.
FIND_STALLED = """
SELECT id, attempt, max_attempts, cancel_requested, worker_id FROM underway_jobs
WHERE state = 'running' AND heartbeat_at < ?
"""
#: A stalled job moved to the state policy chose, with the error it gave; run_at is kept, so
#: a rescued job is claimed before the backlog. One statement each: SQLite binds no arrays.
RECOVER_STALLED = """
UPDATE underway_jobs SET
    state = :state,
    worker_id = CASE WHEN :state = 'cancelled' THEN worker_id END,
    heartbeat_at = CASE WHEN :state = 'cancelled' THEN heartbeat_at END,
    error = :error,
    errors = CASE WHEN :state = 'cancelled' THEN errors
                  ELSE json_insert(errors, '$[#]', json(:error)) END,
    finished_at = CASE WHEN :state = 'pending' THEN NULL ELSE :now END,
    expires_at = CASE WHEN :state = 'pending' THEN NULL ELSE :now + retention_s END
WHERE id = :id AND state = 'running'
"""
FORGET_WORKERS = "DELETE FROM underway_workers WHERE heartbeat_at < ?"
PRUNE_EXPIRED = """
DELETE FROM underway_jobs WHERE seq IN (SELECT seq FROM underway_jobs
                                        WHERE expires_at <= ? LIMIT ?)
"""


def sweep(
    conn: sqlite3.Connection, stall_timeout_s: float, now: float
) -> tuple[SweepResult, list[str]]:
    """Stage due jobs, recover stalled ones, forget dead workers; also the ids that ended."""
    staged = conn.execute(STAGE_DUE, (now,)).rowcount
    states = _recover_stalled(conn, now - stall_timeout_s, now)
    conn.execute(FORGET_WORKERS, (now - 10 * stall_timeout_s,))
    return policy.sweep_result(staged, states)


def _recover_stalled(
    conn: sqlite3.Connection, heartbeat_before: float, now: float
) -> dict[str, JobState]:
    states = {}
    for row in conn.execute(FIND_STALLED, (heartbeat_before,)).fetchall():
        state, why = policy.recovery(
            row["attempt"], row["max_attempts"], row["cancel_requested"], row["worker_id"]
        )
        error = error_to_data(why, now)
        params = {"id": row["id"], "state": state.value, "error": data_to_json_text(error)}
        conn.execute(RECOVER_STALLED, {**params, "now": now})
        states[row["id"]] = state
    return states


def prune_batch(conn: sqlite3.Connection, batch_size: int, now: float) -> int:
    return int(conn.execute(PRUNE_EXPIRED, (now, batch_size)).rowcount)
