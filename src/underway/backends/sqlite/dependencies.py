"""Jobs that wait for others on SQLite: what a new one starts as, and settling, which counts
the jobs that just ended on the edges of those waiting for them, in the transaction that
ended them, and moves each dependent as `dependency_rules` says (released, cancelled or
skipped; those that end are settled in turn, level by level)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Collection, Sequence

from ...models import JobState, NewJob
from .. import dependency_rules
from ..dependency_rules import Waits
from ..policy import NOBODY, Wakeups

#: The states of the stored jobs of these ids (a JSON array).
STATES_OF = "SELECT id, state FROM underway_jobs WHERE id IN (SELECT value FROM json_each(?))"
#: One edge: job `job_id` waits for `dependency_id`, the position-th job it depends on;
#: `ended` is set if that one had ended already (then it is counted on the job as stored).
INSERT_EDGE = """
INSERT INTO underway_dependencies (job_id, position, dependency_id, ended) VALUES (?, ?, ?, ?)
"""
#: Step 1 of settling: the edges not yet counted of the jobs of these ids (a JSON array) that
#: have ended, marked with their end state. The edges are found first: a job nobody waits on
#: costs one probe of the index of uncounted edges, which finds nothing.
MARK_ENDED = """
UPDATE underway_dependencies
SET ended = (SELECT state FROM underway_jobs WHERE id = dependency_id)
WHERE dependency_id IN (SELECT value FROM json_each(?1)) AND ended IS NULL
  AND (SELECT state FROM underway_jobs WHERE id = dependency_id)
      IN ('completed', 'failed', 'cancelled', 'skipped')
RETURNING job_id, ended
"""
#: MARK_ENDED for jobs the caller knows have ended (a JSON array of ids): their state is
#: read once, for the edge it is written to, not also to learn whether they ended.
MARK_KNOWN_ENDED = """
UPDATE underway_dependencies
SET ended = (SELECT state FROM underway_jobs WHERE id = dependency_id)
WHERE dependency_id IN (SELECT value FROM json_each(?1)) AND ended IS NULL
RETURNING job_id, ended
"""
#: Whether any edge is still to be counted: with none (no job waits for another), settling
#: has nothing to do, and a finish pays one probe of an empty index instead of one per job.
ANY_WAITING = "SELECT EXISTS (SELECT 1 FROM underway_dependencies WHERE ended IS NULL)"
#: MARK_ENDED for a job being deleted: it ends, for those waiting on it, as cancelled.
MARK_DELETED = """
UPDATE underway_dependencies SET ended = 'cancelled'
WHERE dependency_id = ? AND ended IS NULL
RETURNING job_id, ended
"""
#: Step 2: each dependent's counts, from a JSON array of [job id, edges ended, of which did
#: not complete] arrays.
COUNT_ENDED = """
UPDATE underway_jobs SET
    waiting_on = waiting_on - counted.ended,
    failed_dependencies = failed_dependencies + counted.failed
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS ended,
             json_extract(value, '$[2]') AS failed
      FROM json_each(?1)) AS counted
WHERE underway_jobs.id = counted.id
"""
#: Step 3: the dependents of these ids (:ids, a JSON array) still waiting, moved as
#: `dependency_rules.verdict` says: cancelled (with the error `dependency_failed` makes),
#: skipped, or released (pending, or scheduled if their run_at is still ahead). The unary
#: plus keeps the planner off the state index: each job is found by its id.
MOVE_DECIDED = """
UPDATE underway_jobs SET
    state = decided.state,
    error = CASE WHEN decided.state = 'cancelled'
                 THEN json_object('type', 'DependencyFailed',
                                  'message', failed_dependencies
                                      || ' of the jobs it depends on did not complete'
                                      || ' (it tolerates ' || tolerate || ')',
                                  'traceback', '', 'attempt', attempt, 'at', :now)
                 ELSE error END,
    skip_reason = CASE WHEN decided.state = 'skipped' THEN :none_failed ELSE skip_reason END,
    finished_at = CASE WHEN decided.state IN ('cancelled', 'skipped') THEN :now
                       ELSE finished_at END,
    expires_at = CASE WHEN decided.state IN ('cancelled', 'skipped') THEN :now + retention_s
                      ELSE expires_at END
FROM (SELECT id,
             CASE WHEN dependency_rule = 'completed' AND failed_dependencies > tolerate
                      THEN 'cancelled'
                  WHEN waiting_on > 0 THEN 'waiting'
                  WHEN dependency_rule = 'failed' AND failed_dependencies = 0 THEN 'skipped'
                  WHEN run_at > :now THEN 'scheduled'
                  ELSE 'pending' END AS state
      FROM underway_jobs
      WHERE id IN (SELECT value FROM json_each(:ids)) AND +state = 'waiting') AS decided
WHERE underway_jobs.id = decided.id AND decided.state <> 'waiting'
RETURNING id, state
"""


def states_of(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """The state of each stored job of these ids."""
    rows = conn.execute(STATES_OF, (json.dumps(list(ids)),))
    return {row[0]: row[1] for row in rows}


def insert_edges(conn: sqlite3.Connection, jobs: Sequence[tuple[NewJob, Waits]]) -> None:
    """Store the edges of stored jobs, one row per job they wait for."""
    conn.executemany(
        INSERT_EDGE,
        [
            (job.id, position, dependency_id, waits.ended[position])
            for job, waits in jobs
            for position, dependency_id in enumerate(job.after)
        ],
    )


def any_waiting(conn: sqlite3.Connection) -> bool:
    """Whether any job waits for another (then settling has work)."""
    return bool(conn.execute(ANY_WAITING).fetchone()[0])


def settle(
    conn: sqlite3.Connection, ids: Sequence[str], now: float, ended: Collection[str] = ()
) -> Wakeups:
    """Count the jobs of these ids that have ended on what waits for them, and move those
    dependents as the rules say; whom that wakes. Call it in the transaction that ended them.
    `ended`: those of `ids` the caller knows have ended (the others' rows say whether)."""
    if not ids or not any_waiting(conn):
        return NOBODY
    known = [job_id for job_id in ids if job_id in ended]
    others = [job_id for job_id in ids if job_id not in ended] if known else list(ids)
    marked = conn.execute(MARK_KNOWN_ENDED, (json.dumps(known),)).fetchall() if known else []
    if others:
        marked += conn.execute(MARK_ENDED, (json.dumps(others),)).fetchall()
    return _count(conn, marked, now)


def settle_deleted(conn: sqlite3.Connection, job_id: str, now: float) -> Wakeups:
    """`settle` for a job being deleted: those still waiting on it count it as cancelled."""
    return _count(conn, conn.execute(MARK_DELETED, (job_id,)).fetchall(), now)


def _count(conn: sqlite3.Connection, marked: list[sqlite3.Row], now: float) -> Wakeups:
    """Steps 2 to 4, level after level: count the marked edges on their jobs, move the jobs,
    and mark the edges of those that ended, until no edge is left to count."""
    released = False
    ended: list[str] = []
    while marked:
        moved = _count_level(conn, marked, now)
        released = released or any(state == JobState.PENDING for _, state in moved)
        level = [job_id for job_id, state in moved if JobState(state).is_finished]
        ended += level
        marked = conn.execute(MARK_ENDED, (json.dumps(level),)).fetchall() if level else []
    return Wakeups(work=released, finished=tuple(ended)) if ended or released else NOBODY


def _count_level(
    conn: sqlite3.Connection, marked: list[sqlite3.Row], now: float
) -> list[tuple[str, str]]:
    """Count the marked edges (job id, end state) on their jobs and move those the rules
    decide; the (id, new state) of each job moved."""
    ended: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for job_id, state in marked:
        ended[job_id] += 1
        failed[job_id] += state != JobState.COMPLETED
    counted = [[job_id, n, failed[job_id]] for job_id, n in ended.items()]
    conn.execute(COUNT_ENDED, (json.dumps(counted),))
    params = {
        "ids": json.dumps(list(ended)),
        "now": now,
        "none_failed": dependency_rules.NONE_FAILED,
    }
    return [(row[0], row[1]) for row in conn.execute(MOVE_DECIDED, params).fetchall()]
