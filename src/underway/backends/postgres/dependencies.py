"""Jobs that wait for others on PostgreSQL: what a new one starts as, its edges, and
settling, which counts the jobs that just ended on the edges of those waiting for them, in
the transaction that ended them, and moves each dependent as `dependency_rules` says
(released, cancelled or skipped; those that end are settled in turn, level by level).

Row locks keep the counts exact across transactions. An enqueue locks the jobs it will wait
for and marks those not ended `awaited`: one cannot end until the edges to it commit (a
finish then sees the mark, and settles it), and one that ended first is read as ended.
Settling locks each dependent before reading its counts (in id order): two jobs that end at
once, each the last but one the dependent waits for, are counted one after the other, and
only the second sees none left, so it alone releases it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...models import JobState, NewJob
from .. import dependency_rules
from ..dependency_rules import Waits
from ..policy import NOBODY, Wakeups
from .connection import channel_name
from .tx import Row, Tx

#: The states of the stored jobs of these ids, locked until the new edges to them commit
#: (in id order, as every statement that locks several jobs); those not ended are marked
#: `awaited`, which tells their finish to settle them.
STATES_OF = """
WITH locked AS (
    SELECT id, state, awaited FROM {schema}.jobs WHERE id = ANY(%s)
    ORDER BY id FOR NO KEY UPDATE
),
marked AS (
    UPDATE {schema}.jobs SET awaited = true
    WHERE id = ANY(ARRAY(SELECT id FROM locked WHERE NOT awaited
                         AND state NOT IN ('completed', 'failed', 'cancelled', 'skipped')))
)
SELECT id, state FROM locked
"""
#: Edges: job `job_id` waits for `dependency_id`, the position-th job it depends on; `ended`
#: is set if that one had ended already (then it is counted on the job as stored).
INSERT_EDGES = """
INSERT INTO {schema}.dependencies (job_id, position, dependency_id, ended)
SELECT * FROM unnest(%(job_ids)b::text[], %(positions)b::int[], %(dependency_ids)b::text[],
                     %(ended)b::text[])
"""
#: One level of settling, for the jobs of `ids` (a job no longer stored counts as cancelled):
#: `marked`, the edges not yet counted of those that ended, marked with the state they ended
#: in, each id's part of dependencies_by_dependency read apart (`= ANY(ARRAY(...))`:
#: statistics taken before a big fan-in was stored once made the plan read all of its edges
#: on every settling; a job nobody waits on costs one probe that finds nothing); `decided`, each
#: dependent locked, then read as it now is, with its new counts and what
#: `dependency_rules.verdict` makes of them (only a waiting job moves); the counts written
#: and the moves made, with the error a cancelled one records, the skip reason of a skipped
#: one. The ended ones are announced on "finished" (150 ids a payload), the released ones'
#: queues on "work". Rows: the dependents that moved, with their new state.
SETTLE_LEVEL = """
WITH marked AS (
    UPDATE {schema}.dependencies AS d
    SET ended = coalesce((SELECT state FROM {schema}.jobs WHERE id = d.dependency_id),
                         'cancelled')
    WHERE d.dependency_id = ANY(ARRAY(
              SELECT e.id FROM unnest(%(ids)s::text[]) AS e(id)
              LEFT JOIN {schema}.jobs AS j ON j.id = e.id
              WHERE j.id IS NULL OR j.state IN ('completed', 'failed', 'cancelled', 'skipped')))
      AND d.ended IS NULL
    RETURNING d.job_id, d.ended
),
counted AS (
    SELECT job_id, count(*)::int AS n, count(*) FILTER (WHERE ended <> 'completed')::int AS failed
    FROM marked GROUP BY job_id
),
decided AS (
    SELECT w.id, w.state = 'waiting' AS moves, w.waiting_on - c.n AS waiting_on,
        w.failed_dependencies + c.failed AS failed,
        CASE WHEN w.state <> 'waiting' THEN w.state
             WHEN w.dependency_rule = 'completed'
                  AND w.failed_dependencies + c.failed > w.tolerate THEN 'cancelled'
             WHEN w.waiting_on - c.n > 0 THEN 'waiting'
             WHEN w.dependency_rule = 'failed' AND w.failed_dependencies + c.failed = 0
                  THEN 'skipped'
             WHEN w.run_at > now() THEN 'scheduled'
             ELSE 'pending' END AS state
    FROM {schema}.jobs AS w JOIN counted AS c ON c.job_id = w.id
    WHERE w.id = ANY(ARRAY(SELECT job_id FROM counted))
    ORDER BY w.id
    FOR NO KEY UPDATE OF w
),
moved AS (
    UPDATE {schema}.jobs AS w SET
        waiting_on = v.waiting_on,
        failed_dependencies = v.failed,
        state = v.state,
        error = CASE WHEN v.moves AND v.state = 'cancelled'
                     THEN jsonb_build_object('type', %(failed_type)s::text,
                         'message', v.failed || ' of the jobs it depends on did not complete'
                                    || ' (it tolerates ' || w.tolerate || ')',
                         'traceback', '', 'attempt', w.attempt,
                         'at', extract(epoch FROM now())::float8)
                     ELSE w.error END,
        skip_reason = CASE WHEN v.moves AND v.state = 'skipped' THEN %(none_failed)s::text
                           ELSE w.skip_reason END,
        finished_at = CASE WHEN v.moves AND v.state IN ('cancelled', 'skipped') THEN now()
                           ELSE w.finished_at END,
        expires_at = CASE WHEN v.moves AND v.state IN ('cancelled', 'skipped')
                          THEN now() + make_interval(secs => w.retention_s)
                          ELSE w.expires_at END
    FROM decided AS v
    WHERE w.id = v.id AND w.id = ANY(ARRAY(SELECT id FROM decided))
    RETURNING w.id, w.state, w.queue, v.moves AND v.state <> 'waiting' AS moved
),
told AS (SELECT pg_notify(%(finished_channel)s, string_agg(id, ','))
         FROM (SELECT id, (row_number() OVER ()) / 150 AS part FROM moved
               WHERE moved AND state IN ('cancelled', 'skipped')) ended GROUP BY part),
woken AS (SELECT pg_notify(%(work_channel)s, queue)
          FROM (SELECT DISTINCT queue FROM moved WHERE moved AND state = 'pending') released)
SELECT moved.id, moved.state FROM moved, (SELECT count(*) FROM told) t,
    (SELECT count(*) FROM woken) k
WHERE moved.moved
"""


async def states_of(tx: Tx, ids: Sequence[str]) -> dict[str, str]:
    """The state of each stored job of these ids, each locked until this transaction ends
    and, if not ended, marked awaited: call it only to store edges to them."""
    rows = await tx.rows(STATES_OF, (sorted(set(ids)),))
    return {row["id"]: row["state"] for row in rows}


async def insert_edges(tx: Tx, jobs: Sequence[tuple[NewJob, Waits]]) -> None:
    """Store the edges of stored jobs, one row per job they wait for, in one statement."""
    edges = [
        (job.id, position, dependency_id, waits.ended[position])
        for job, waits in jobs
        for position, dependency_id in enumerate(job.after)
    ]
    if edges:
        names = ("job_ids", "positions", "dependency_ids", "ended")
        columns = zip(*edges, strict=True)
        params = {name: list(values) for name, values in zip(names, columns, strict=True)}
        await tx.run(INSERT_EDGES, params)


def settle_statement(tx: Tx, ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """SETTLE_LEVEL and its parameters for the jobs of these ids (to send in a batch)."""
    return SETTLE_LEVEL, {
        "ids": list(ids),
        "failed_type": dependency_rules.DEPENDENCY_FAILED,
        "none_failed": dependency_rules.NONE_FAILED,
        "finished_channel": channel_name(tx.schema, "finished"),
        "work_channel": channel_name(tx.schema, "work"),
    }


async def settle(tx: Tx, ids: Sequence[str]) -> Wakeups:
    """Count the jobs of these ids that have ended (or are gone) on what waits for them, and
    move those dependents as the rules say; whom that wakes in this process (the statements
    send their own NOTIFYs). Call it in the transaction that ended them."""
    if not ids:
        return NOBODY
    return await settle_further(tx, await tx.rows(*settle_statement(tx, ids)))


async def settle_further(tx: Tx, moved: list[Row]) -> Wakeups:
    """Settling after its first level (`moved`: that level's rows): the dependents that
    ended are settled in turn, a statement a level, until none ends."""
    released = False
    ended: list[str] = []
    while moved:
        released = released or any(row["state"] == JobState.PENDING for row in moved)
        level = [row["id"] for row in moved if JobState(row["state"]).is_finished]
        ended += level
        moved = await tx.rows(*settle_statement(tx, level)) if level else []
    return Wakeups(work=released, finished=tuple(ended)) if ended or released else NOBODY


def merged(first: Wakeups, second: Wakeups) -> Wakeups:
    """Whom either of two writes wakes."""
    if second is NOBODY:
        return first
    return Wakeups(
        work=first.work or second.work,
        finished=first.finished + second.finished,
        cancel=first.cancel + second.cancel,
    )
