"""Ending attempts on PostgreSQL: outcomes recorded in one fenced statement per batch, with
the target state policy chose (a cancel request that came in meanwhile wins), and running
jobs handed back on shutdown; the jobs that ended are settled on what waits for them in the
same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...models import JobError, Lease, Outcome
from .. import policy
from ..policy import NOBODY, Wakeups
from .connection import PostgresPool, channel_name
from .dependencies import settle, settle_call, settle_params, wakeups_of
from .leases import fence
from .tx import Tx, batch_params, batch_select, with_batch
from .values import UnstorableValue, error_jsonb, jsonb_text

#: A batch of outcomes, each fenced on its lease and found by its id, with its notifications
#: in the same statement: the finished ids, comma-joined and 150 to a payload (well under
#: its 8,000-byte limit), on "finished"; a "work" wake-up if a retry is due now or a lane slot
#: was freed. The outcome columns are prefixed so that none shadows a column of jobs; `o_state`
#: is policy's target, `o_snooze` whether the attempt spends none of the job's attempts (a
#: snooze), `%(cancelled)s` the error a cancel request records. `{unless_awaited}` is true
#: or false (`finish_statement`): if true, the jobs that others wait on are left as they are,
#: to be finished by a statement that also settles them (the fence reads the mark on the row
#: it writes: one stored while the statement waited for the row's lock is seen).
FINISH = """
WITH done AS (
UPDATE {schema}.jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE o_state END,
    max_attempts = CASE WHEN o_snooze AND NOT cancel_requested
                        THEN max_attempts + 1 ELSE max_attempts END,
    snoozes = CASE WHEN o_snooze AND NOT cancel_requested THEN snoozes + 1 ELSE snoozes END,
    run_at = CASE WHEN o_state IN ('pending', 'scheduled') AND NOT cancel_requested
                  THEN now() + make_interval(secs => o_delay) ELSE run_at END,
    worker_id = CASE WHEN o_state IN ('pending', 'scheduled') AND NOT cancel_requested
                     THEN NULL ELSE worker_id END,
    heartbeat_at = CASE WHEN o_state IN ('pending', 'scheduled') AND NOT cancel_requested
                        THEN NULL ELSE heartbeat_at END,
    result = CASE WHEN o_state = 'completed' AND NOT cancel_requested THEN o_result END,
    error = CASE WHEN cancel_requested THEN %(cancelled)s::jsonb ELSE o_error END
            || jsonb_build_object('at', extract(epoch FROM now())::float8),
    errors = errors || CASE WHEN o_error IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(
        o_error || jsonb_build_object('at', extract(epoch FROM now())::float8)) END,
    progress = CASE WHEN o_state = 'completed' AND NOT cancel_requested
                    THEN 100 ELSE progress END,
    finished_at = CASE WHEN o_state IN ('pending', 'scheduled') AND NOT cancel_requested
                       THEN finished_at ELSE now() END,
    expires_at = CASE WHEN o_state IN ('pending', 'scheduled') AND NOT cancel_requested
                      THEN expires_at ELSE now() + make_interval(secs => retention_s) END
FROM ({batch}) AS o(o_id, o_attempt, o_worker, o_state, o_delay, o_result, o_error, o_snooze)
WHERE id = o_id AND CASE WHEN attempt = o_attempt AND worker_id = o_worker
                          AND state = 'running' AND NOT ({unless_awaited} AND awaited)
                          THEN true ELSE false END
RETURNING id, attempt, state, lane
),
told AS (SELECT pg_notify(%(finished_channel)s, string_agg(id, ','))
         FROM (SELECT id, (row_number() OVER ()) / 150 AS part FROM done
               WHERE state IN ('completed', 'failed', 'cancelled')) finished GROUP BY part),
woken AS (SELECT pg_notify(%(work_channel)s, '') FROM done
          WHERE state = 'pending' OR lane IS NOT NULL LIMIT 1)
"""
#: FINISH's rows.
FINISHED = """
SELECT done.* FROM done, (SELECT count(*) FROM told) t, (SELECT count(*) FROM woken) w
"""
#: FINISH of jobs others may wait on, settled in the same statement, with the states it
#: wrote: `settle` is a volatile function, so each statement in it takes a snapshot of its
#: own, which sees the finish's writes and every edge committed to the jobs the finish
#: locked. Rows: FINISH's (`kind` 'finished'), then settle's ('moved').
FINISHED_AND_SETTLED = (
    """,
settled AS (SELECT s.id, s.state FROM """
    + settle_call(
        "ARRAY(SELECT done.id FROM done ORDER BY done.id)",
        "ARRAY(SELECT done.state FROM done ORDER BY done.id)",
    )
    + """ AS s)
SELECT 'finished' AS kind, done.id, done.attempt, done.state
FROM done, (SELECT count(*) FROM told) t, (SELECT count(*) FROM woken) w
UNION ALL
SELECT 'moved', settled.id, NULL, settled.state FROM settled
"""
)
Statement = tuple[str, dict[str, Any]]
#: The outcome columns and their types, in the order FINISH names them.
OUTCOME_TYPES = {
    "ids": "text",
    "attempts": "int",
    "workers": "text",
    "states": "text",
    "delays": "float8",
    "results": "jsonb",
    "errors": "jsonb",
    "snoozes": "bool",
}
#: A job handed back without counting its attempt, run_at kept so that it goes to the front
#: of its queue; cancelled instead if a cancel was asked.
REQUEUE = """
UPDATE {schema}.jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END,
    attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt - 1 END,
    worker_id = CASE WHEN cancel_requested THEN worker_id END,
    heartbeat_at = CASE WHEN cancel_requested THEN heartbeat_at END,
    finished_at = CASE WHEN cancel_requested THEN now() END,
    expires_at = CASE WHEN cancel_requested THEN now() + make_interval(secs => retention_s) END,
    error = CASE WHEN cancel_requested THEN %(cancelled)s::jsonb
                      || jsonb_build_object('at', extract(epoch FROM now())::float8)
                 ELSE error END
WHERE id = %(id)s AND CASE WHEN attempt = %(attempt)s AND worker_id = %(worker)s
                            AND state = 'running' THEN true ELSE false END
RETURNING state
"""


def finish_statement(
    varying: tuple[str, ...], *, unless_awaited: bool = False, settled: bool = False
) -> str:
    """FINISH with the `varying` outcome columns as arrays and the others as one value for
    the whole batch (`batch_params`), leaving out the jobs others wait on if asked, or
    settling them in the same statement (`settled`)."""
    statement = FINISH.replace("{unless_awaited}", "true" if unless_awaited else "false")
    statement += FINISHED_AND_SETTLED if settled else FINISHED
    return with_batch(statement, batch_select(OUTCOME_TYPES, varying, numbered=False))


def finish_of(
    tx: Tx, outcomes: Sequence[Outcome], *, unless_awaited: bool = False, settled: bool = False
) -> Statement:
    """FINISH and its parameters for a batch of outcomes (`finish_statement`'s options)."""
    varying, params = batch_params(OUTCOME_TYPES, [_outcome_row(o) for o in outcomes])
    params["finished_channel"] = channel_name(tx.schema, "finished")
    params["work_channel"] = channel_name(tx.schema, "work")
    params["cancelled"] = CANCELLED
    if settled:
        params.update(settle_params(tx))
    return finish_statement(varying, unless_awaited=unless_awaited, settled=settled), params


async def finish_many(
    pool: PostgresPool, outcomes: Sequence[Outcome], awaited: set[str]
) -> tuple[set[tuple[str, int]], Wakeups]:
    """Record how attempts ended and notify: the leases that still held, by (id, attempt),
    and whom settling woke in this process.

    A batch whose jobs nobody waits on costs one statement, committed on its own. It leaves
    out the jobs others wait on: those are finished again by a statement that also settles
    them (FINISHED_AND_SETTLED), and so are outcomes whose lease was lost (found lost again).
    A batch with a job of `awaited` (claimed jobs others wait on; their ids are taken out)
    goes to that statement at once."""
    ids = {outcome.lease.job_id for outcome in outcomes}
    held: set[tuple[str, int]] = set()
    rest = list(outcomes)
    if awaited.isdisjoint(ids):
        rows = await pool.statement(
            lambda tx: tx.rows(*finish_of(tx, outcomes, unless_awaited=True))
        )
        held = {(row["id"], row["attempt"]) for row in rows}
        rest = [o for o in outcomes if (o.lease.job_id, o.lease.attempt) not in held]
    awaited.difference_update(ids)
    if not rest:
        return held, NOBODY
    settled, wakeups = await pool.statement(lambda tx: _finish_and_settle(tx, rest))
    return held | settled, wakeups


async def _finish_and_settle(
    tx: Tx, outcomes: Sequence[Outcome]
) -> tuple[set[tuple[str, int]], Wakeups]:
    """FINISH and settling, in one statement that commits on its own."""
    rows = await tx.rows(*finish_of(tx, outcomes, settled=True))
    finished = {(row["id"], row["attempt"]) for row in rows if row["kind"] == "finished"}
    return finished, wakeups_of([row for row in rows if row["kind"] == "moved"])


def _outcome_row(outcome: Outcome) -> tuple[object, ...]:
    """One outcome as FINISH's columns; a result PostgreSQL cannot store fails the attempt."""
    try:
        result = jsonb_text(outcome.result)
    except UnstorableValue as exc:
        unstorable = JobError(
            type="UnstorableResult", message=str(exc), attempt=outcome.lease.attempt
        )
        outcome = Outcome(outcome.lease, "failed", error=unstorable)
        result = "null"
    lease = outcome.lease
    return (
        lease.job_id,
        lease.attempt,
        lease.worker_id,
        policy.outcome_state(outcome).value,
        float(outcome.retry_delay_s),
        result,
        error_jsonb(outcome.error),
        policy.spends_no_attempt(outcome),
    )


async def requeue_many(tx: Tx, leases: Sequence[Lease]) -> tuple[list[str], Wakeups]:
    """Each job's new state (`requeue`), and whom settling those cancelled wakes."""
    states = [await requeue(tx, lease) for lease in leases]
    cancelled = [
        lease.job_id for lease, state in zip(leases, states, strict=True) if state == "cancelled"
    ]
    return states, await settle(tx, cancelled)


async def requeue(tx: Tx, lease: Lease) -> str:
    """Give a running job back without counting the attempt (or cancel it if asked to).

    Returns the new state: pending, cancelled, or "" if the lease was already lost.
    """
    row = await tx.row(REQUEUE, {**fence(lease), "cancelled": CANCELLED})
    return "" if row is None else str(row["state"])


#: policy.CANCELLED as jsonb text, its time added by each statement from the database's clock.
CANCELLED = error_jsonb(policy.CANCELLED)
