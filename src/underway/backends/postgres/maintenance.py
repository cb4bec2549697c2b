"""Upkeep on PostgreSQL: staging due jobs, recovering the jobs of workers that stopped
heartbeating (policy decides what each becomes; those that end are settled on what waits for
them), forgetting dead workers, pruning (with the edges of the jobs pruned and the workflows
left with no member)."""

from __future__ import annotations

from ...models import LostAttempt, SweepResult
from .. import policy
from ..policy import Wakeups
from . import dependencies, history, rate_keys
from .tx import Tx
from .values import clean_text, error_jsonb

STAGE_DUE = """
UPDATE {schema}.jobs SET state = 'pending' WHERE state = 'scheduled' AND run_at <= now()
"""
#: Running jobs whose last heartbeat is older than the stall timeout, locked for recovery.
FIND_STALLED = """
SELECT id, name, attempt, max_attempts, losses, cancel_requested, worker_id FROM {schema}.jobs
WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => %s)
FOR UPDATE SKIP LOCKED
"""
#: Stalled jobs moved to the states policy chose, with the errors, loss counts, attempt
#: budgets and delays it gave, and one line each in their logs (outside the per-job cap: one a
#: loss, and losses are bounded). Without a delay run_at is kept, so a rescued job is claimed
#: before the backlog.
RECOVER_STALLED = """
WITH recovered AS (
    UPDATE {schema}.jobs SET
        state = r_state,
        run_at = CASE WHEN r_delay > 0 THEN now() + make_interval(secs => r_delay) ELSE run_at END,
        losses = r_losses,
        max_attempts = r_max_attempts,
        log_count = log_count + 1,
        worker_id = CASE WHEN r_state = 'cancelled' THEN worker_id END,
        heartbeat_at = CASE WHEN r_state = 'cancelled' THEN heartbeat_at END,
        error = r_error || jsonb_build_object('at', extract(epoch FROM now())::float8),
        errors = CASE WHEN r_state = 'cancelled' THEN errors ELSE errors || jsonb_build_array(
            r_error || jsonb_build_object('at', extract(epoch FROM now())::float8)) END,
        finished_at = CASE WHEN r_state IN ('failed', 'cancelled') THEN now() END,
        expires_at = CASE WHEN r_state IN ('failed', 'cancelled')
                          THEN now() + make_interval(secs => retention_s) END
    FROM unnest(%(ids)s::text[], %(states)s::text[], %(delays)s::float8[], %(errors)s::jsonb[],
                %(losses)s::int[], %(max_attempts)s::int[], %(levels)s::text[],
                %(lines)s::text[])
         AS r(r_id, r_state, r_delay, r_error, r_losses, r_max_attempts, r_level, r_line)
    WHERE id = r_id AND state = 'running'
    RETURNING id, log_count, r_level, r_line
),
logged AS (
    INSERT INTO {schema}.job_logs (job_id, seq, at, level, message)
    SELECT id, log_count, now(), r_level, r_line FROM recovered
)
SELECT id FROM recovered
"""
FORGET_WORKERS = (
    "DELETE FROM {schema}.workers WHERE heartbeat_at < now() - make_interval(secs => %s)"
)
#: Expired jobs, a batch at a time; `= ANY(ARRAY(...))` keeps a generic plan on the id's
#: index (an `IN (...)` join could hash the whole table, not knowing the LIMIT). With them go
#: their edges (only a job with a dependency rule has any; the edges to them keep how they
#: ended) and the workflows they leave with no member (their rows in the list of members go
#: by trigger as the statement ends: the list read here still holds them); rows: one a job,
#: with what the history needs of it and whether the rollup has reached it.
PRUNE_EXPIRED = """
WITH pruned AS (
    DELETE FROM {schema}.jobs WHERE id = ANY(ARRAY(SELECT id FROM {schema}.jobs
                                                  WHERE expires_at <= now() LIMIT %s
                                                  FOR UPDATE SKIP LOCKED))
    RETURNING id, workflow_id, dependency_rule, seq, queue, name, state, run_at, started_at,
        finished_at
),
edges AS (
    DELETE FROM {schema}.dependencies
    WHERE job_id = ANY(ARRAY(SELECT id FROM pruned WHERE dependency_rule IS NOT NULL))
),
kept AS (
    UPDATE {schema}.dependencies AS e
    SET ended = (SELECT p.state FROM pruned AS p WHERE p.id = e.dependency_id)
    WHERE e.dependency_id = ANY(ARRAY(SELECT id FROM pruned))
      AND e.job_id <> ALL(ARRAY(SELECT id FROM pruned WHERE dependency_rule IS NOT NULL))
),
emptied AS (
    DELETE FROM {schema}.workflows AS w
    WHERE w.id = ANY(ARRAY(SELECT workflow_id FROM pruned WHERE workflow_id IS NOT NULL))
      AND NOT EXISTS (SELECT 1 FROM {schema}.workflow_members AS m
                      WHERE m.workflow_id = w.id
                        AND m.job_id <> ALL(ARRAY(SELECT id FROM pruned)))
)
SELECT seq, queue, name, state, extract(epoch FROM run_at)::float8 AS run_at,
    extract(epoch FROM started_at)::float8 AS started_at,
    extract(epoch FROM finished_at)::float8 AS finished_at,
    finished_at IS NOT NULL AND (finished_at, seq) > (SELECT folded_at, folded_seq
                                                      FROM {schema}.history_rollup) AS unfolded
FROM pruned
"""


async def sweep(
    tx: Tx, stall_timeout_s: float, max_losses: int | policy.LossBounds, spacing_s: float
) -> tuple[SweepResult, Wakeups]:
    """Stage due jobs, recover stalled ones (settling those that ended), forget dead
    workers."""
    staged = await tx.run(STAGE_DUE)
    lost = await _recover_stalled(tx, float(stall_timeout_s), max_losses, spacing_s)
    await tx.run(FORGET_WORKERS, (10 * float(stall_timeout_s),))
    ended = [attempt.job_id for attempt in lost if attempt.state.is_finished]
    return policy.sweep_result(staged, lost), await dependencies.settle(tx, ended)


async def _recover_stalled(
    tx: Tx, stall_timeout_s: float, max_losses: int | policy.LossBounds, spacing_s: float
) -> list[LostAttempt]:
    stalled = await tx.rows(FIND_STALLED, (stall_timeout_s,))
    if not stalled:
        return []
    decided = policy.recoveries(stalled, max_losses, spacing_s)
    params = {
        "ids": [row["id"] for row in stalled],
        "states": [d.state.value for d in decided],
        "delays": [d.delay_s for d in decided],
        "errors": [error_jsonb(d.error) for d in decided],
        "losses": [d.losses for d in decided],
        "max_attempts": [d.max_attempts for d in decided],
        "levels": [d.log_level for d in decided],
        "lines": [clean_text(d.log_line) for d in decided],
    }
    recovered = {row["id"] for row in await tx.rows(RECOVER_STALLED, params)}
    lost = [(row, d) for row, d in zip(stalled, decided, strict=True) if row["id"] in recovered]
    await history.record_losses(
        tx, [(r["worker_id"], r["id"], r["name"], r["attempt"], d.state.value) for r, d in lost]
    )
    return [policy.lost_attempt(row, d) for row, d in lost]


async def prune_batch(tx: Tx, batch_size: int) -> tuple[int, int]:
    """Delete up to `batch_size` expired jobs (those the history's rollup has not reached are
    folded in) and the spent starts of as many rate keys; how many jobs and keys."""
    await history.hold_watermark(tx)
    pruned = await tx.rows(PRUNE_EXPIRED, (batch_size,))
    await history.fold_pruned(tx, pruned)
    spent = await tx.run(rate_keys.PRUNE_SPENT, (batch_size,))
    await tx.run(rate_keys.PRUNE_EXPIRED, (batch_size,))
    return len(pruned), spent
