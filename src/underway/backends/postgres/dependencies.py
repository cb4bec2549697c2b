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
    """Count the jobs of these ids that have ended (or are gone) on what waits for them, and
    move those dependents as the rules say, those that end in turn too; whom that wakes in
    this process (the statements send their own NOTIFYs). Call it in the transaction that
    ended them."""
    if not ids:
        return NOBODY
    return wakeups_of(await tx.rows(SETTLE, {"ids": list(ids), **settle_params(tx)}))


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
