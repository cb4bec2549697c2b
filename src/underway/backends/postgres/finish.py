"""Ending attempts on PostgreSQL: outcomes recorded in one fenced statement per batch, with
the target state policy chose (a cancel request that came in meanwhile wins), and running
jobs handed back on shutdown."""

from __future__ import annotations

from collections.abc import Sequence

from ...models import JobError, Lease, Outcome
from .. import policy
from .connection import channel_name
from .leases import fence
from .tx import Row, Tx, batch_params, batch_select, with_batch
from .values import UnstorableValue, error_jsonb, jsonb_text

#: A batch of outcomes, each fenced on its lease and found by its id, with its notifications
#: in the same statement: the finished ids, comma-joined and 150 to a payload (well under
#: its 8,000-byte limit), on "finished"; a "work" wake-up if a retry is due now or a lane slot
#: was freed. The outcome columns are prefixed so that none shadows a column of jobs; `o_state`
#: is policy's target, `o_snooze` whether the attempt spends none of the job's attempts (a
#: snooze), `%(cancelled)s` the error a cancel request records.
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
                          AND state = 'running' THEN true ELSE false END
RETURNING id, attempt, state, lane
),
told AS (SELECT pg_notify(%(finished_channel)s, string_agg(id, ','))
         FROM (SELECT id, (row_number() OVER ()) / 150 AS part FROM done
               WHERE state IN ('completed', 'failed', 'cancelled')) finished GROUP BY part),
woken AS (SELECT pg_notify(%(work_channel)s, '') FROM done
          WHERE state = 'pending' OR lane IS NOT NULL LIMIT 1)
SELECT done.* FROM done, (SELECT count(*) FROM told) t, (SELECT count(*) FROM woken) w
"""
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


def finish_statement(varying: tuple[str, ...]) -> str:
    """FINISH with the `varying` outcome columns as arrays and the others as one value for
    the whole batch (`batch_params`)."""
    return with_batch(FINISH, batch_select(OUTCOME_TYPES, varying, numbered=False))


async def finish_many(tx: Tx, outcomes: Sequence[Outcome]) -> dict[tuple[str, int], Row]:
    """Record how attempts ended and notify, in one statement; rows by (id, attempt) of the
    leases still held."""
    varying, params = batch_params(OUTCOME_TYPES, [_outcome_row(o) for o in outcomes])
    params["finished_channel"] = channel_name(tx.schema, "finished")
    params["work_channel"] = channel_name(tx.schema, "work")
    params["cancelled"] = CANCELLED
    rows = await tx.rows(finish_statement(varying), params)
    return {(row["id"], row["attempt"]): row for row in rows}


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


async def requeue(tx: Tx, lease: Lease) -> str:
    """Give a running job back without counting the attempt (or cancel it if asked to).

    Returns the new state: pending, cancelled, or "" if the lease was already lost.
    """
    row = await tx.row(REQUEUE, {**fence(lease), "cancelled": CANCELLED})
    return "" if row is None else str(row["state"])


#: policy.CANCELLED as jsonb text, its time added by each statement from the database's clock.
CANCELLED = error_jsonb(policy.CANCELLED)
