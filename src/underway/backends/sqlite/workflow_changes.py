"""Changing workflows and batches on SQLite, each in one write transaction: storing one with
its jobs, adding jobs to an open batch, cancelling and retrying one."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence

from ...errors import InvalidStateError, WorkflowNotFound
from ...models import EnqueueResult, JobState, NewJob
from ...workflow_models import NewWorkflow
from .. import dependency_rules
from ..policy import NOBODY, Wakeups
from . import dependencies
from .dependencies import ENDS, STANDS
from .finish import cancelled_error
from .members import enqueue_members

#: A workflow; a retried call finds it stored already.
INSERT_WORKFLOW = """
INSERT INTO underway_workflows (id, name, kind, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING
"""
KIND = "SELECT kind FROM underway_workflows WHERE id = ?"
#: A batch's callbacks: its members that wait for others.
CALLBACKS = """
SELECT id, state FROM underway_jobs INDEXED BY underway_jobs_dependents
WHERE workflow_id = ? AND dependency_rule IS NOT NULL
"""
#: Every callback of :callbacks waits also for every job of :added (JSON arrays), after the
#: jobs it waits for already.
WAIT_ALSO_FOR = """
INSERT INTO underway_dependencies (job_id, position, dependency_id)
SELECT callback.value,
       (SELECT max(position) FROM underway_dependencies WHERE job_id = callback.value)
           + 1 + added.key,
       added.value
FROM json_each(:callbacks) AS callback, json_each(:added) AS added
"""
WAIT_LONGER = """
UPDATE underway_jobs SET waiting_on = waiting_on + ? WHERE id IN (SELECT value FROM json_each(?))
"""
#: Members not running yet are cancelled now; running ones are flagged for their workers.
CANCEL_MEMBERS = """
UPDATE underway_jobs SET
    cancel_requested = cancel_requested OR state = 'running',
    state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
    finished_at = CASE WHEN state = 'running' THEN finished_at ELSE :now END,
    expires_at = CASE WHEN state = 'running' THEN expires_at ELSE :now + retention_s END,
    error = CASE WHEN state = 'running' THEN error ELSE :cancelled END
WHERE workflow_id = :workflow AND state IN ('waiting', 'scheduled', 'pending', 'running')
RETURNING id, state
"""
#: The members that run again on a retry, as a JSON array.
RETRIED = """
SELECT json_group_array(id) FROM underway_jobs
WHERE workflow_id = ? AND state IN ('failed', 'cancelled')
"""
#: The retried jobs' counts, read again from their dependencies' rows (those retried with
#: them as not ended).
RECOUNT_RETRIED = f"""
UPDATE underway_jobs SET
    waiting_on = (SELECT count(*) FROM underway_dependencies AS edge
                  LEFT JOIN underway_jobs AS dependency ON dependency.id = edge.dependency_id
                  WHERE edge.job_id = underway_jobs.id
                    AND ({STANDS} NOT IN {ENDS}
                         OR edge.dependency_id IN (SELECT value FROM json_each(:retried)))),
    failed_dependencies = (SELECT count(*) FROM underway_dependencies AS edge
                           LEFT JOIN underway_jobs AS dependency
                               ON dependency.id = edge.dependency_id
                           WHERE edge.job_id = underway_jobs.id
                             AND {STANDS} IN ('failed', 'cancelled', 'skipped')
                             AND edge.dependency_id NOT IN
                                 (SELECT value FROM json_each(:retried)))
WHERE id IN (SELECT value FROM json_each(:retried))
"""
#: The retried jobs reset as `manage.RETRY` resets a job, waiting or pending as
#: `dependency_rules.verdict` says; one it would cancel or skip again stays as it is.
RESET_RETRIED = """
UPDATE underway_jobs SET
    state = decided.state, run_at = :now, finished_at = NULL, expires_at = NULL,
    cancel_requested = 0, worker_id = NULL, heartbeat_at = NULL, result = NULL, progress = 0,
    message = NULL, max_attempts = max(max_attempts, attempt + 1)
FROM (SELECT id,
             CASE WHEN dependency_rule = 'completed' AND failed_dependencies > tolerate
                      THEN 'cancelled'
                  WHEN waiting_on > 0 THEN 'waiting'
                  WHEN dependency_rule = 'failed' AND failed_dependencies = 0 THEN 'skipped'
                  ELSE 'pending' END AS state
      FROM underway_jobs WHERE id IN (SELECT value FROM json_each(:retried))) AS decided
WHERE underway_jobs.id = decided.id AND decided.state IN ('waiting', 'pending')
RETURNING state
"""


def start(
    conn: sqlite3.Connection, workflow: NewWorkflow, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult]:
    """Store a workflow and its jobs, each after those it waits for."""
    conn.execute(INSERT_WORKFLOW, (workflow.id, workflow.name, workflow.kind, now))
    return enqueue_members(conn, members_of(workflow.id, jobs), now)


def add_to_batch(
    conn: sqlite3.Connection, batch_id: str, jobs: Sequence[NewJob], now: float
) -> tuple[list[EnqueueResult], Wakeups]:
    """Store jobs in an open batch; its callbacks still waiting wait for them too."""
    kind = conn.execute(KIND, (batch_id,)).fetchone()
    if kind is None:
        raise WorkflowNotFound(batch_id)
    if kind[0] != "batch":
        raise InvalidStateError(f"workflow {batch_id} is not a batch: jobs are added to batches")
    callbacks = conn.execute(CALLBACKS, (batch_id,)).fetchall()
    waiting = [row["id"] for row in callbacks if row["state"] == JobState.WAITING]
    if callbacks and not waiting:
        raise InvalidStateError(f"batch {batch_id} has ended: its callbacks were released")
    stored = enqueue_members(conn, members_of(batch_id, jobs), now)
    if not waiting or not stored:
        return stored, NOBODY
    added = [result.id for result in stored]
    conn.execute(WAIT_ALSO_FOR, {"callbacks": json.dumps(waiting), "added": json.dumps(added)})
    conn.execute(WAIT_LONGER, (len(added), json.dumps(waiting)))
    # A job that ended already (cancelled at once, or joined one that ended) counts now, on
    # the new edges alone: those waiting for it before counted it as it ended.
    states = dependencies.states_of(conn, added)
    pairs = dependency_rules.ends_on_new_edges(waiting, added, states)
    return stored, dependencies.count_pairs(conn, pairs, now) if pairs else NOBODY


def members_of(workflow_id: str, jobs: Sequence[NewJob]) -> list[NewJob]:
    """The jobs as members of the workflow."""
    return [
        job if job.workflow_id == workflow_id else dataclasses.replace(job, workflow_id=workflow_id)
        for job in jobs
    ]


def cancel(conn: sqlite3.Connection, workflow_id: str, now: float) -> tuple[Wakeups, Wakeups]:
    """Cancel the members not running yet and flag running ones for their workers to stop;
    whom that wakes, and whom settling the cancelled ones wakes."""
    if conn.execute(KIND, (workflow_id,)).fetchone() is None:
        raise WorkflowNotFound(workflow_id)
    params = {"workflow": workflow_id, "now": now, "cancelled": cancelled_error(now)}
    rows = conn.execute(CANCEL_MEMBERS, params).fetchall()
    cancelled = [row["id"] for row in rows if row["state"] == JobState.CANCELLED]
    asked = tuple(row["id"] for row in rows if row["state"] == JobState.RUNNING)
    changed = Wakeups(finished=tuple(cancelled), cancel=asked)
    return changed, dependencies.settle(conn, cancelled, now)


def retry(conn: sqlite3.Connection, workflow_id: str, now: float) -> Wakeups:
    """Run again the members that failed or were cancelled: the jobs that wait for them,
    retried ones too, count them as not ended."""
    if conn.execute(KIND, (workflow_id,)).fetchone() is None:
        raise WorkflowNotFound(workflow_id)
    retried = conn.execute(RETRIED, (workflow_id,)).fetchone()[0]
    if retried == "[]":
        return NOBODY
    params = {"retried": retried, "now": now}
    dependencies.uncount(conn, json.loads(retried))
    conn.execute(RECOUNT_RETRIED, params)
    try:
        states = [row[0] for row in conn.execute(RESET_RETRIED, params).fetchall()]
    except sqlite3.IntegrityError:
        raise InvalidStateError(
            f"workflow {workflow_id} cannot be retried: another job with the same arguments "
            "as one of its members is active"
        ) from None
    return Wakeups(work=JobState.PENDING in states)
