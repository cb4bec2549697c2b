"""Jobs that wait for others on PostgreSQL: what a new one starts as, its edges, and
settling, which counts the jobs that just ended on the edges of those waiting for them, in
the transaction that ended them, and moves each dependent as `dependency_rules` says
(released, cancelled or skipped; those that end are settled in turn, level by level).

A job's end is counted once because the transaction that ends it counts it: every caller of
`settle` passes only jobs it has just moved into an end state (its statement is guarded by
the state it changes). Edges are not written as they are counted: an edge's dependency has
ended if its row says so, or if its row is gone (then the edge keeps how it ended). A job
reopened (retried) is taken back off the counts of those that wait for it (`uncount`).

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


def settle_call(ids: str, states: str = "NULL::text[]") -> str:
    """A call of migration 0022's function `settle`, which settles the jobs of the `ids`
    expression level by level, taking their states from the `states` expression (in the
    same order) or, if NULL, from their rows; its rows: every dependent that moved, with its
    new state. Its parameters: `settle_params`."""
    return (
        f"{{schema}}.settle({ids}, {states}, %(failed_type)s::text, %(none_failed)s::text, "
        "%(finished_channel)s::text, %(work_channel)s::text)"
    )


#: Settling the jobs of `ids`, their states read from their rows.
SETTLE = "SELECT id, state FROM " + settle_call("%(ids)s::text[]")
#: Counting ends on these edges alone (migration 0024's `count_ends`): each of `dependents`
#: waits for one that ended in the state at the same place of `states`.
COUNT_ENDS = """
SELECT id, state FROM {schema}.count_ends(%(dependents)s::text[], %(states)s::text[],
    %(failed_type)s::text, %(none_failed)s::text, %(finished_channel)s::text,
    %(work_channel)s::text)
"""
#: How the dependency of `e` (joined as `d`) stands for the counts: its state, or if its row
#: is gone, how it ended (kept on the edge; one deleted with no record of it: cancelled).
STANDS = "coalesce(d.state, e.ended, 'cancelled')"
ENDS = "('completed', 'failed', 'cancelled', 'skipped')"
#: The edges to a job whose row goes keep how it ended (or as cancelled, if it had not).
KEEP_ENDED = """
UPDATE {schema}.dependencies SET ended = %(state)s WHERE dependency_id = %(id)s
"""
#: The jobs of `retried` (each had failed or was cancelled: only those are retried) are not
#: ended any more for the jobs that wait for them but are not retried with them (whatever
#: their state: each job's counts are those its dependencies' rows give), locked in id order;
#: those that others wait for are marked awaited, so that their next finish settles them.
#: Each edge is matched against the retried ids by a join, not by `<> ALL(...)`, which took
#: time in the square of their number.
UNCOUNT = """
WITH retried AS (SELECT unnest(%(retried)s::text[]) AS id),
edges AS (
    SELECT e.job_id, e.dependency_id, r.id IS NOT NULL AS retried
    FROM {schema}.dependencies AS e LEFT JOIN retried AS r ON r.id = e.job_id
    WHERE e.dependency_id = ANY(%(retried)s::text[])
),
marked AS (
    UPDATE {schema}.jobs SET awaited = true
    WHERE id = ANY(ARRAY(SELECT DISTINCT dependency_id FROM edges)) AND NOT awaited
),
counted AS (
    SELECT job_id, count(*)::int AS n FROM edges WHERE NOT retried GROUP BY job_id
),
locked AS (
    SELECT j.id, c.n FROM {schema}.jobs AS j JOIN counted AS c ON c.job_id = j.id
    WHERE j.id = ANY(ARRAY(SELECT job_id FROM counted)) ORDER BY j.id FOR NO KEY UPDATE OF j
)
UPDATE {schema}.jobs AS j SET
    waiting_on = j.waiting_on + l.n, failed_dependencies = j.failed_dependencies - l.n
FROM locked AS l WHERE j.id = l.id
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


def settle_params(tx: Tx) -> dict[str, Any]:
    """The parameters of `settle_call` but its ids."""
    return {
        "failed_type": dependency_rules.DEPENDENCY_FAILED,
        "none_failed": dependency_rules.NONE_FAILED,
        "finished_channel": channel_name(tx.schema, "finished"),
        "work_channel": channel_name(tx.schema, "work"),
    }


async def settle(tx: Tx, ids: Sequence[str]) -> Wakeups:
    """Count the jobs of these ids that have ended (or are gone: as cancelled) on what waits
    for them, and move those dependents as the rules say, those that end in turn too; whom
    that wakes in this process (the statements send their own NOTIFYs). Call it in the
    transaction that ended them, with only jobs it moved into an end state (or deleted
    before they ended)."""
    if not ids:
        return NOBODY
    return wakeups_of(await tx.rows(SETTLE, {"ids": list(ids), **settle_params(tx)}))


async def count_pairs(tx: Tx, pairs: Sequence[tuple[str, str]]) -> Wakeups:
    """Count ends on these edges alone (waiting job, the state its dependency ended in): new
    edges to jobs that have ended already. Those that end in turn are settled too."""
    if not pairs:
        return NOBODY
    params = {
        "dependents": [job_id for job_id, _ in pairs],
        "states": [state for _, state in pairs],
        **settle_params(tx),
    }
    return wakeups_of(await tx.rows(COUNT_ENDS, params))


async def keep_ended(tx: Tx, job_id: str, state: str) -> None:
    """The edges to a job whose row goes keep how it ended (`state`, if it had ended)."""
    await tx.run(KEEP_ENDED, {"id": job_id, "state": dependency_rules.end_of_gone(state)})


async def uncount(tx: Tx, retried: Sequence[str]) -> None:
    """Take jobs that failed or were cancelled, and are being retried, off the counts of
    every job that waits for them and is not retried with them: they wait for them again."""
    await tx.run(UNCOUNT, {"retried": list(retried)})


def wakeups_of(moved: list[Row]) -> Wakeups:
    """Whom settling wakes in this process, from SETTLE's rows: the queues of released
    dependents, and those that ended."""
    released = any(row["state"] == JobState.PENDING for row in moved)
    ended = tuple(row["id"] for row in moved if JobState(row["state"]).is_finished)
    return Wakeups(work=released, finished=ended) if ended or released else NOBODY


def merged(first: Wakeups, second: Wakeups) -> Wakeups:
    """Whom either of two writes wakes."""
    if second is NOBODY:
        return first
    return Wakeups(
        work=first.work or second.work,
        finished=first.finished + second.finished,
        cancel=first.cancel + second.cancel,
    )
