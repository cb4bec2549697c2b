"""Upkeep on PostgreSQL: staging due jobs, recovering the jobs of workers that stopped
heartbeating (policy decides what each becomes), forgetting dead workers, pruning."""

from __future__ import annotations

from ...models import JobState, SweepResult
from .. import policy
from .tx import Tx
from .values import error_jsonb

STAGE_DUE = """
UPDATE {schema}.jobs SET state = 'pending' WHERE state = 'scheduled' AND run_at <= now()
"""
#: Running jobs whose last heartbeat is older than the stall timeout, locked for recovery.
FIND_STALLED = """
SELECT id, attempt, max_attempts, cancel_requested, worker_id FROM {schema}.jobs
WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => %s)
FOR UPDATE SKIP LOCKED
"""
#: Stalled jobs moved to the states policy chose, with the errors it gave; run_at is kept,
#: so a rescued job is claimed before the backlog.
RECOVER_STALLED = """
UPDATE {schema}.jobs SET
    state = r_state,
    worker_id = CASE WHEN r_state = 'cancelled' THEN worker_id END,
    heartbeat_at = CASE WHEN r_state = 'cancelled' THEN heartbeat_at END,
    error = r_error || jsonb_build_object('at', extract(epoch FROM now())::float8),
    errors = CASE WHEN r_state = 'cancelled' THEN errors ELSE errors || jsonb_build_array(
        r_error || jsonb_build_object('at', extract(epoch FROM now())::float8)) END,
    finished_at = CASE WHEN r_state = 'pending' THEN NULL ELSE now() END,
    expires_at = CASE WHEN r_state = 'pending' THEN NULL
                      ELSE now() + make_interval(secs => retention_s) END
FROM unnest(%(ids)s::text[], %(states)s::text[], %(errors)s::jsonb[]) AS r(r_id, r_state, r_error)
WHERE id = r_id AND state = 'running'
RETURNING id, state
"""
FORGET_WORKERS = (
    "DELETE FROM {schema}.workers WHERE heartbeat_at < now() - make_interval(secs => %s)"
)
#: Expired jobs, a batch at a time; `= ANY(ARRAY(...))` keeps a generic plan on the id's
#: index (an `IN (...)` join could hash the whole table, not knowing the LIMIT).
PRUNE_EXPIRED = """
DELETE FROM {schema}.jobs WHERE id = ANY(ARRAY(SELECT id FROM {schema}.jobs
                                              WHERE expires_at <= now() LIMIT %s
                                              FOR UPDATE SKIP LOCKED))
"""


async def sweep(tx: Tx, stall_timeout_s: float) -> tuple[SweepResult, list[str]]:
    """Stage due jobs, recover stalled ones, forget dead workers; also the ids that ended."""
    staged = await tx.run(STAGE_DUE)
    states = await _recover_stalled(tx, float(stall_timeout_s))
    await tx.run(FORGET_WORKERS, (10 * float(stall_timeout_s),))
    return policy.sweep_result(staged, states)


async def _recover_stalled(tx: Tx, stall_timeout_s: float) -> dict[str, JobState]:
    stalled = await tx.rows(FIND_STALLED, (stall_timeout_s,))
    if not stalled:
        return {}
    ids, states, errors = [], [], []
    for row in stalled:
        state, why = policy.recovery(
            row["attempt"], row["max_attempts"], row["cancel_requested"], row["worker_id"]
        )
        ids.append(row["id"])
        states.append(state.value)
        errors.append(error_jsonb(why))
    params = {"ids": ids, "states": states, "errors": errors}
    recovered = await tx.rows(RECOVER_STALLED, params)
    return {row["id"]: policy.STATES[row["state"]] for row in recovered}


async def prune_batch(tx: Tx, batch_size: int) -> int:
    return await tx.run(PRUNE_EXPIRED, (batch_size,))
