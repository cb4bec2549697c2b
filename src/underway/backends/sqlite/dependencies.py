"""Jobs that wait for others on SQLite: what a new one starts as, and settling, which counts
the jobs that just ended on those waiting for them, in the transaction that ended them, and
moves each dependent as `dependency_rules` says (released, cancelled or skipped; those that
end are settled in turn, level by level).

A job's end is counted once because the transaction that ends it counts it: every caller of
`settle` passes only jobs it has just moved from a state that is not an end into one (its
statement is guarded by the state it changes). Edges are not written as they are counted: an
edge's dependency has ended if its row says so, or if its row is gone (then the edge keeps
how it ended, `keep_ended`). A job reopened (retried) is taken back off the counts of those
that wait for it (`uncount`) in the transaction that reopens it. So each job's counts are,
whatever its own state, those its dependencies' rows give."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence

from ...models import JobState, NewJob
from .. import dependency_rules
from ..dependency_rules import Waits
from ..policy import NOBODY, Wakeups

#: Ends counted on one job waiting: [its id, how many ended, how many of those did not
#: complete] (COUNT_ENDED's rows).
Counts = list[str | int]

#: The states of the stored jobs of these ids (a JSON array).
STATES_OF = "SELECT id, state FROM underway_jobs WHERE id IN (SELECT value FROM json_each(?))"
#: One edge: job `job_id` waits for `dependency_id`, the position-th job it depends on;
#: `ended` is set if that one had ended already (then it is counted on the job as stored).
INSERT_EDGE = """
INSERT INTO underway_dependencies (job_id, position, dependency_id, ended) VALUES (?, ?, ?, ?)
"""
#: How the dependency of `edge` (joined as `dependency`) stands for the counts: its state, or
#: if its row is gone, how it ended (kept on the edge; a job deleted with no record of it
#: reads as cancelled).
STANDS = "coalesce(dependency.state, edge.ended, 'cancelled')"
ENDS = "('completed', 'failed', 'cancelled', 'skipped')"
#: Whether any job waits for one that has not ended: with none, nothing that ends is waited
#: for, and a finish pays one probe of an empty index instead of one per job.
ANY_AWAITING = "SELECT EXISTS (SELECT 1 FROM underway_jobs WHERE waiting_on > 0)"
#: What a count leaves of each job it counted on: whether it is waiting, and what the rules
#: need to decide whether it moves (`dependency_rules.verdict`).
COUNTED = "RETURNING id, state, dependency_rule, tolerate, waiting_on, failed_dependencies"
#: Step 1 and 2 of settling: count those jobs of these ids (a JSON array) that have ended on
#: every job waiting for them, grouped per job waiting (a fan-in takes one update per batch
#: of its members, and sends no row per edge to Python).
COUNT_ENDS_OF = f"""
UPDATE underway_jobs SET
    waiting_on = waiting_on - counted.n,
    failed_dependencies = failed_dependencies + counted.failed
FROM (SELECT edge.job_id AS id, count(*) AS n, sum(dependency.state <> 'completed') AS failed
      FROM json_each(?1) AS ended
      JOIN underway_jobs AS dependency ON dependency.id = ended.value
      JOIN underway_dependencies AS edge INDEXED BY underway_dependencies_of
          ON edge.dependency_id = ended.value
      WHERE dependency.state IN {ENDS}
      GROUP BY edge.job_id) AS counted
WHERE underway_jobs.id = counted.id
{COUNTED}
"""
#: The edges to these jobs (a JSON array of ids), as (dependency, job waiting).
EDGES_TO = """
SELECT edge.dependency_id, edge.job_id FROM json_each(?1) AS ended
JOIN underway_dependencies AS edge INDEXED BY underway_dependencies_of
    ON edge.dependency_id = ended.value
"""
#: The edges to a job whose row goes keep how it ended (?2).
KEEP_ENDED = "UPDATE underway_dependencies SET ended = ?2 WHERE dependency_id = ?1"
#: The jobs of ?1 (a JSON array; each had failed or was cancelled: only those are retried)
#: are not ended any more for the jobs that wait for them but are not retried with them
#: (whatever their state: each job's counts are those its dependencies' rows give).
UNCOUNT = """
UPDATE underway_jobs SET
    waiting_on = waiting_on + reopened.n,
    failed_dependencies = failed_dependencies - reopened.n
FROM (SELECT edge.job_id, count(*) AS n
      FROM json_each(?1) AS retried
      JOIN underway_dependencies AS edge INDEXED BY underway_dependencies_of
          ON edge.dependency_id = retried.value
      WHERE edge.job_id NOT IN (SELECT value FROM json_each(?1))
      GROUP BY edge.job_id) AS reopened
WHERE underway_jobs.id = reopened.job_id
"""
#: Step 2 for ends tallied in Python: each dependent's counts, from a JSON array of
#: [job id, edges ended, of which did not complete] arrays.
COUNT_ENDED = f"""
UPDATE underway_jobs SET
    waiting_on = waiting_on - counted.ended,
    failed_dependencies = failed_dependencies + counted.failed
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS ended,
             json_extract(value, '$[2]') AS failed
      FROM json_each(?1)) AS counted
WHERE underway_jobs.id = counted.id
{COUNTED}
"""
#: Step 3: the dependents of these ids (:ids, a JSON array: those the rules move, or may)
#: still waiting, moved as
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


def any_awaiting(conn: sqlite3.Connection) -> bool:
    """Whether any job waits for one that has not ended (then settling may have work)."""
    return bool(conn.execute(ANY_AWAITING).fetchone()[0])


def settle(conn: sqlite3.Connection, ids: Sequence[str], now: float) -> Wakeups:
    """Count the jobs of these ids that have ended on what waits for them, and move those
    dependents as the rules say; whom that wakes. Call it in the transaction that ended
    them, with only jobs it moved into an end state (others among `ids` are left out)."""
    if not ids or not any_awaiting(conn):
        return NOBODY
    counted = conn.execute(COUNT_ENDS_OF, (json.dumps(list(ids)),)).fetchall()
    return _moved(conn, _move(conn, counted, now), now)


def settle_gone(conn: sqlite3.Connection, job_id: str, state: str, now: float) -> Wakeups:
    """For a job whose row is being deleted, in `state`: the edges to it keep how it ended
    (as cancelled if it had not), and if it had not, `settle` it as cancelled."""
    kept = dependency_rules.end_of_gone(state)
    keep_ended(conn, [(job_id, kept)])
    if JobState(state).is_finished:
        return NOBODY
    return count_edges(conn, {job_id: kept}, now)


def keep_ended(conn: sqlite3.Connection, gone: Iterable[tuple[str, str]]) -> None:
    """The edges to these ended jobs (id, state), whose rows go, keep how they ended."""
    conn.executemany(KEEP_ENDED, gone)


def count_edges(conn: sqlite3.Connection, ended: dict[str, str], now: float) -> Wakeups:
    """Count these jobs (id: the state it ended in), which just ended, on every edge to them;
    move the dependents as the rules say, and settle those that end in turn."""
    return _count(conn, _edges_to(conn, ended), now)


def count_pairs(conn: sqlite3.Connection, pairs: list[tuple[str, str]], now: float) -> Wakeups:
    """Count ends on these edges alone (waiting job, the state its dependency ended in): new
    edges to jobs that have ended already. Those that end in turn are settled too."""
    return _count(conn, _tally(pairs), now)


def uncount(conn: sqlite3.Connection, retried: Sequence[str]) -> None:
    """Take jobs that failed or were cancelled, and are being retried, off the counts of
    every job that waits for them and is not retried with them: they wait for them again."""
    conn.execute(UNCOUNT, (json.dumps(list(retried)),))


def _edges_to(conn: sqlite3.Connection, ended: dict[str, str]) -> list[Counts]:
    """The ends to count of these ended jobs (id: the state it ended in), per job waiting."""
    rows = conn.execute(EDGES_TO, (json.dumps(list(ended)),)).fetchall()
    return _tally([(job_id, ended[dependency_id]) for dependency_id, job_id in rows])


def _tally(pairs: Iterable[tuple[str, str]]) -> list[Counts]:
    """Ends on edges (job waiting, the state its dependency ended in), per job waiting: its
    id, how many ended, how many of those did not complete."""
    ended: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for job_id, state in pairs:
        ended[job_id] += 1
        failed[job_id] += state != JobState.COMPLETED
    return [[job_id, n, failed[job_id]] for job_id, n in ended.items()]


def _count(conn: sqlite3.Connection, counts: list[Counts], now: float) -> Wakeups:
    """Steps 2 to 4 for ends tallied in Python (`_tally`'s rows)."""
    return _moved(conn, _count_tallied(conn, counts, now), now)


def _moved(conn: sqlite3.Connection, moved: list[tuple[str, str]], now: float) -> Wakeups:
    """Step 4, level after level: the jobs moved that ended are counted in turn on those
    waiting for them, until none ends; whom all of it wakes."""
    released = False
    ended: list[str] = []
    while moved:
        released = released or any(state == JobState.PENDING for _, state in moved)
        level = {job_id: state for job_id, state in moved if JobState(state).is_finished}
        ended += level
        moved = _count_tallied(conn, _edges_to(conn, level), now) if level else []
    return Wakeups(work=released, finished=tuple(ended)) if ended or released else NOBODY


def _count_tallied(
    conn: sqlite3.Connection, counts: list[Counts], now: float
) -> list[tuple[str, str]]:
    """Steps 2 and 3 for ends tallied in Python: count them on their jobs, and move those
    the rules decide; the (id, new state) of each job moved."""
    if not counts:
        return []
    return _move(conn, conn.execute(COUNT_ENDED, (json.dumps(counts),)).fetchall(), now)


def _move(
    conn: sqlite3.Connection, counted: list[sqlite3.Row], now: float
) -> list[tuple[str, str]]:
    """Step 3: move the counted jobs (COUNTED's rows) still waiting that the rules decide;
    the (id, new state) of each job moved. With none to move, no statement runs."""
    due = [
        row[0]
        for row in counted
        if row[1] == JobState.WAITING
        and dependency_rules.verdict(row[2], row[3], row[4], row[5]) != "waiting"
    ]
    if not due:
        return []
    params = {"ids": json.dumps(due), "now": now, "none_failed": dependency_rules.NONE_FAILED}
    return [(row[0], row[1]) for row in conn.execute(MOVE_DECIDED, params).fetchall()]
