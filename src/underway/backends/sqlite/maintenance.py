"""Upkeep on SQLite: staging due jobs, recovering the jobs of workers that stopped
heartbeating (policy decides what each becomes; those that end are settled on what waits for
them), forgetting dead workers, pruning (with the workflows left with no member)."""

from __future__ import annotations

import json
import sqlite3

from ...models import LostAttempt, SweepResult
from .. import policy
from ..codecs import data_to_json_text, error_to_data
from ..policy import Wakeups
from . import dependencies, history, rate_starts
from .leases import ADD_LOG

STAGE_DUE = """
UPDATE underway_jobs INDEXED BY underway_jobs_scheduled SET state = 'pending'
WHERE state = 'scheduled' AND run_at <= ?
"""
#: Running jobs whose last heartbeat is older than the stall timeout.
FIND_STALLED = """
SELECT id, name, attempt, max_attempts, losses, cancel_requested, worker_id FROM underway_jobs
WHERE state = 'running' AND heartbeat_at < ?
"""
#: A stalled job moved to the state policy chose, with the error, loss count, attempt budget
#: and delay it gave, and room for one more line in its log (added with ADD_LOG, outside the
#: per-job cap: one a loss, and losses are bounded). Without a delay run_at is kept, so a
#: rescued job is claimed before the backlog. One statement each: SQLite binds no arrays.
RECOVER_STALLED = """
UPDATE underway_jobs SET
    state = :state,
    run_at = CASE WHEN :delay_s > 0 THEN :now + :delay_s ELSE run_at END,
    losses = :losses,
    max_attempts = :max_attempts,
    log_count = log_count + 1,
    worker_id = CASE WHEN :state = 'cancelled' THEN worker_id END,
    heartbeat_at = CASE WHEN :state = 'cancelled' THEN heartbeat_at END,
    error = :error,
    errors = CASE WHEN :state = 'cancelled' THEN errors
                  ELSE json_insert(errors, '$[#]', json(:error)) END,
    finished_at = CASE WHEN :state IN ('failed', 'cancelled') THEN :now END,
    expires_at = CASE WHEN :state IN ('failed', 'cancelled') THEN :now + retention_s END
WHERE id = :id AND state = 'running'
RETURNING log_count
"""
FORGET_WORKERS = "DELETE FROM underway_workers WHERE heartbeat_at < ?"
#: Expired jobs (their logs and edges go with them), with their ids, the workflows they were
#: in and what the history needs of them (history.UNFOLDED's columns, from `seq` on).
PRUNE_EXPIRED = """
DELETE FROM underway_jobs WHERE seq IN (SELECT seq FROM underway_jobs
                                        WHERE expires_at <= ? LIMIT ?)
RETURNING id, workflow_id, seq, queue, name, state, run_at, started_at, finished_at
"""
#: The workflows of these ids (a JSON array) that have no member left.
PRUNE_EMPTY_WORKFLOWS = """
DELETE FROM underway_workflows
WHERE id IN (SELECT value FROM json_each(?))
  AND NOT EXISTS (SELECT 1 FROM underway_jobs WHERE workflow_id = underway_workflows.id)
"""


def sweep(
    conn: sqlite3.Connection,
    stall_timeout_s: float,
    max_losses: int | policy.LossBounds,
    spacing_s: float,
    now: float,
) -> tuple[SweepResult, Wakeups]:
    """Stage due jobs, recover stalled ones (settling those that ended), forget dead
    workers."""
    staged = conn.execute(STAGE_DUE, (now,)).rowcount
    lost = _recover_stalled(conn, now - stall_timeout_s, max_losses, spacing_s, now)
    conn.execute(FORGET_WORKERS, (now - 10 * stall_timeout_s,))
    ended = [attempt.job_id for attempt in lost if attempt.state.is_finished]
    return policy.sweep_result(staged, lost), dependencies.settle(conn, ended, now)


def _recover_stalled(
    conn: sqlite3.Connection,
    heartbeat_before: float,
    max_losses: int | policy.LossBounds,
    spacing_s: float,
    now: float,
) -> list[LostAttempt]:
    stalled = conn.execute(FIND_STALLED, (heartbeat_before,)).fetchall()
    decided_all = policy.recoveries(stalled, max_losses, spacing_s)
    lost = []
    for row, decided in zip(stalled, decided_all, strict=True):
        params = {
            "id": row["id"],
            "state": decided.state.value,
            "delay_s": decided.delay_s,
            "error": data_to_json_text(error_to_data(decided.error, now)),
            "losses": decided.losses,
            "max_attempts": decided.max_attempts,
            "now": now,
        }
        recovered = conn.execute(RECOVER_STALLED, params).fetchone()
        if recovered is not None:
            line = (row["id"], recovered["log_count"], now, decided.log_level, decided.log_line)
            conn.execute(ADD_LOG, line)
            lost.append(policy.lost_attempt(row, decided))
            history.record_loss(
                conn,
                row["worker_id"],
                row["id"],
                row["name"],
                row["attempt"],
                decided.state.value,
                now,
            )
    return lost


def prune_batch(conn: sqlite3.Connection, batch_size: int, now: float) -> tuple[int, int]:
    """Delete up to `batch_size` expired jobs (and the workflows they leave empty; those the
    history's rollup has not reached are folded in first; the edges to them keep how they
    ended) and as many spent rate starts; how many of each (rate starts settled: see
    rate_starts)."""
    pruned = conn.execute(PRUNE_EXPIRED, (now, batch_size)).fetchall()
    history.fold_pruned(conn, (row[2:] for row in pruned))
    dependencies.keep_ended(conn, ((row[0], row[5]) for row in pruned))
    workflows = sorted({row[1] for row in pruned if row[1] is not None})
    if workflows:
        conn.execute(PRUNE_EMPTY_WORKFLOWS, (json.dumps(workflows),))
    return len(pruned), rate_starts.settle(conn, now, batch_size)
