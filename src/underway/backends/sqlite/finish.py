"""Ending attempts on SQLite: each outcome recorded in one fenced statement with the target
state policy chose (a cancel request that came in meanwhile wins), and running jobs handed
back on shutdown."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ...models import Lease, Outcome
from .. import policy
from ..codecs import data_to_json_text, error_to_data
from .leases import fence

#: One outcome, fenced on its lease (one statement each, not a batch: SQLite binds no arrays
#: and a statement costs no round trip); `:state` is policy's target, `:cancelled` the error a
#: cancel request records.
FINISH = """
UPDATE underway_jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE :state END,
    run_at = CASE WHEN :state IN ('pending', 'scheduled') AND NOT cancel_requested
                  THEN :now + :delay ELSE run_at END,
    worker_id = CASE WHEN :state IN ('pending', 'scheduled') AND NOT cancel_requested
                     THEN NULL ELSE worker_id END,
    heartbeat_at = CASE WHEN :state IN ('pending', 'scheduled') AND NOT cancel_requested
                        THEN NULL ELSE heartbeat_at END,
    result = CASE WHEN :state = 'completed' AND NOT cancel_requested THEN :result END,
    error = CASE WHEN cancel_requested THEN :cancelled ELSE :error END,
    errors = CASE WHEN :error IS NULL THEN errors
                  ELSE json_insert(errors, '$[#]', json(:error)) END,
    progress = CASE WHEN :state = 'completed' AND NOT cancel_requested
                    THEN 100 ELSE progress END,
    finished_at = CASE WHEN :state IN ('pending', 'scheduled') AND NOT cancel_requested
                       THEN finished_at ELSE :now END,
    expires_at = CASE WHEN :state IN ('pending', 'scheduled') AND NOT cancel_requested
                      THEN expires_at ELSE :now + retention_s END
WHERE id = :id AND attempt = :attempt AND worker_id = :worker AND state = 'running'
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


def finish_many(conn: sqlite3.Connection, outcomes: Sequence[Outcome], now: float) -> list[bool]:
    """Record how attempts ended; for each, False if its lease was lost."""
    cancelled = cancelled_error(now)
    return [
        conn.execute(FINISH, _outcome_params(outcome, now, cancelled)).rowcount == 1
        for outcome in outcomes
    ]


def _outcome_params(outcome: Outcome, now: float, cancelled: str) -> dict[str, object]:
    error = error_to_data(outcome.error, now)
    return {
        **fence(outcome.lease),
        "state": policy.outcome_state(outcome).value,
        "delay": outcome.retry_delay_s,
        "result": data_to_json_text(outcome.result),
        "error": None if error is None else data_to_json_text(error),
        "cancelled": cancelled,
        "now": now,
    }


def requeue_one(conn: sqlite3.Connection, lease: Lease, now: float) -> str:
    """The job's new state: pending, cancelled (a cancel was asked), or "" if the lease is gone."""
    params = {**fence(lease), "now": now, "cancelled": cancelled_error(now)}
    row = conn.execute(REQUEUE, params).fetchone()
    return "" if row is None else str(row["state"])


def cancelled_error(now: float) -> str:
    """policy.CANCELLED as stored JSON text, at `now`."""
    return data_to_json_text(error_to_data(policy.CANCELLED, now))
