"""Changing workflows and batches on PostgreSQL, each in one transaction: storing one with
its jobs, adding jobs to an open batch, cancelling and retrying one."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from psycopg import errors as pg_errors

from ...errors import InvalidStateError, WorkflowNotFound
from ...models import EnqueueResult, JobState, NewJob
from ...workflow_models import NewWorkflow
from .. import dependency_rules
from ..policy import NOBODY, Wakeups
from . import dependencies
from .connection import channel_name
from .dependencies import ENDS, STANDS
from .finish import CANCELLED
from .members import enqueue_members
from .tx import Tx
from .wakeups import send_wakeups

#: A workflow; a retried call finds it stored already.
INSERT_WORKFLOW = """
INSERT INTO {schema}.workflows (id, name, kind) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING
"""
KIND = "SELECT kind FROM {schema}.workflows WHERE id = %s"
#: A batch's callbacks (its members that wait for others), locked as they now are: a member
#: that ends meanwhile is settled on them before or after the jobs added, never between.
CALLBACKS = """
SELECT id, state FROM {schema}.jobs
WHERE workflow_id = %s AND dependency_rule IS NOT NULL
ORDER BY id FOR NO KEY UPDATE
"""
#: Every callback of `callbacks` waits also for every job of `added`, after the jobs it
#: waits for already, and so for that many more jobs; the added jobs are marked awaited (one
#: that ended already is counted by the settling that follows).
WAIT_ALSO_FOR = """
WITH edges AS (
    INSERT INTO {schema}.dependencies (job_id, position, dependency_id)
    SELECT c.id, (SELECT max(position) FROM {schema}.dependencies WHERE job_id = c.id) + a.n,
           a.id
    FROM unnest(%(callbacks)s::text[]) AS c(id),
         unnest(%(added)s::text[]) WITH ORDINALITY AS a(id, n)
),
marked AS (
    UPDATE {schema}.jobs SET awaited = true WHERE id = ANY(%(added)s::text[]) AND NOT awaited
)
UPDATE {schema}.jobs SET waiting_on = waiting_on + cardinality(%(added)s::text[])
WHERE id = ANY(%(callbacks)s::text[])
"""
#: The states of the jobs added to a batch, each locked (in id order) once the edges to it
#: are written: one that ends before it is read counts here, one that ends after it sees
#: the edges and counts them as it ends.
STATES_OF = """
SELECT id, state FROM {schema}.jobs WHERE id = ANY(%s::text[]) ORDER BY id FOR NO KEY UPDATE
"""
#: Members not running yet are cancelled now; running ones are flagged for their workers,
#: each told on "cancel" (found through the table that lists them, their state checked as
#: each is locked); the cancelled ones are announced on "finished" (150 ids a payload).
CANCEL_MEMBERS = """
WITH changed AS (
    UPDATE {schema}.jobs SET
        cancel_requested = cancel_requested OR state = 'running',
        state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
        finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END,
        expires_at = CASE WHEN state = 'running' THEN expires_at
                          ELSE now() + make_interval(secs => retention_s) END,
        error = CASE WHEN state = 'running' THEN error
                     ELSE %(cancelled)s::jsonb
                          || jsonb_build_object('at', extract(epoch FROM now())::float8) END
    WHERE id IN (SELECT job_id FROM {schema}.workflow_members WHERE workflow_id = %(workflow)s)
      AND state IN ('waiting', 'scheduled', 'pending', 'running')
    RETURNING id, state
),
told AS (SELECT pg_notify(%(finished_channel)s, string_agg(id, ','))
         FROM (SELECT id, (row_number() OVER ()) / 150 AS part FROM changed
               WHERE state = 'cancelled') ended GROUP BY part),
asked AS (SELECT pg_notify(%(cancel_channel)s, id) FROM changed WHERE state = 'running')
SELECT changed.* FROM changed, (SELECT count(*) FROM told) t, (SELECT count(*) FROM asked) a
"""
#: The members that run again on a retry, locked.
RETRIED = """
SELECT id FROM {schema}.jobs
WHERE id IN (SELECT job_id FROM {schema}.workflow_members WHERE workflow_id = %s)
  AND state IN ('failed', 'cancelled')
ORDER BY id FOR NO KEY UPDATE
"""
#: The retried jobs' counts, read again from their dependencies' rows (those retried with
#: them as not ended, found by a join), and each reset as `manage.RETRY` resets a job,
#: waiting or pending as `dependency_rules.verdict` says; one it would cancel or skip again
#: stays as it is. `decided` is materialized: inlined, each of the columns set
#: below counted the edges again.
RESET_RETRIED = f"""
WITH retried AS (SELECT unnest(%(retried)s::text[]) AS id),
counted AS (
    SELECT r.id,
        count(e.job_id) FILTER (WHERE {STANDS} NOT IN {ENDS} OR o.id IS NOT NULL)::int
            AS waiting_on,
        count(e.job_id) FILTER (WHERE {STANDS} IN ('failed', 'cancelled', 'skipped')
                                  AND o.id IS NULL)::int AS failed
    FROM retried AS r
    LEFT JOIN {{schema}}.dependencies AS e ON e.job_id = r.id
    LEFT JOIN {{schema}}.jobs AS d ON d.id = e.dependency_id
    LEFT JOIN retried AS o ON o.id = e.dependency_id
    GROUP BY r.id
),
decided AS MATERIALIZED (
    SELECT c.id, c.waiting_on, c.failed,
        CASE WHEN j.dependency_rule = 'completed' AND c.failed > j.tolerate THEN 'cancelled'
             WHEN c.waiting_on > 0 THEN 'waiting'
             WHEN j.dependency_rule = 'failed' AND c.failed = 0 THEN 'skipped'
             ELSE 'pending' END AS state
    FROM counted AS c JOIN {{schema}}.jobs AS j ON j.id = c.id
)
UPDATE {{schema}}.jobs AS j SET
    waiting_on = d.waiting_on, failed_dependencies = d.failed,
    state = CASE WHEN d.state IN ('waiting', 'pending') THEN d.state ELSE j.state END,
    run_at = CASE WHEN d.state IN ('waiting', 'pending') THEN now() ELSE j.run_at END,
    finished_at = CASE WHEN d.state IN ('waiting', 'pending') THEN NULL ELSE j.finished_at END,
    expires_at = CASE WHEN d.state IN ('waiting', 'pending') THEN NULL ELSE j.expires_at END,
    cancel_requested = CASE WHEN d.state IN ('waiting', 'pending') THEN false
                            ELSE j.cancel_requested END,
    worker_id = CASE WHEN d.state IN ('waiting', 'pending') THEN NULL ELSE j.worker_id END,
    heartbeat_at = CASE WHEN d.state IN ('waiting', 'pending') THEN NULL ELSE j.heartbeat_at END,
    result = CASE WHEN d.state IN ('waiting', 'pending') THEN NULL ELSE j.result END,
    progress = CASE WHEN d.state IN ('waiting', 'pending') THEN 0 ELSE j.progress END,
    message = CASE WHEN d.state IN ('waiting', 'pending') THEN NULL ELSE j.message END,
    max_attempts = CASE WHEN d.state IN ('waiting', 'pending')
                        THEN greatest(j.max_attempts, j.attempt + 1) ELSE j.max_attempts END
FROM decided AS d WHERE j.id = d.id
RETURNING j.state
"""


async def start(tx: Tx, workflow: NewWorkflow, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
    """Store a workflow and its jobs, each after those it waits for."""
    await tx.run(INSERT_WORKFLOW, (workflow.id, workflow.name, workflow.kind))
    return await enqueue_members(tx, members_of(workflow.id, jobs))


async def add_to_batch(
    tx: Tx, batch_id: str, jobs: Sequence[NewJob]
) -> tuple[list[EnqueueResult], Wakeups]:
    """Store jobs in an open batch; its callbacks still waiting wait for them too."""
    kind = await tx.row(KIND, (batch_id,))
    if kind is None:
        raise WorkflowNotFound(batch_id)
    if kind["kind"] != "batch":
        raise InvalidStateError(f"workflow {batch_id} is not a batch: jobs are added to batches")
    callbacks = await tx.rows(CALLBACKS, (batch_id,))
    waiting = [row["id"] for row in callbacks if row["state"] == JobState.WAITING]
    if callbacks and not waiting:
        raise InvalidStateError(f"batch {batch_id} has ended: its callbacks were released")
    stored = await enqueue_members(tx, members_of(batch_id, jobs))
    if not waiting or not stored:
        return stored, NOBODY
    added = [result.id for result in stored]
    await tx.run(WAIT_ALSO_FOR, {"callbacks": waiting, "added": added})
    # A job that ended already (cancelled at once, or joined one that ended) counts now, on
    # the new edges alone: those waiting for it before counted it as it ended.
    states = {row["id"]: row["state"] for row in await tx.rows(STATES_OF, (added,))}
    pairs = dependency_rules.ends_on_new_edges(waiting, added, states)
    return stored, await dependencies.count_pairs(tx, pairs)


def members_of(workflow_id: str, jobs: Sequence[NewJob]) -> list[NewJob]:
    """The jobs as members of the workflow."""
    return [
        job if job.workflow_id == workflow_id else dataclasses.replace(job, workflow_id=workflow_id)
        for job in jobs
    ]


async def cancel(tx: Tx, workflow_id: str) -> tuple[Wakeups, Wakeups]:
    """Cancel the members not running yet and flag running ones for their workers to stop;
    whom that wakes in this process, and whom settling the cancelled ones wakes."""
    if await tx.row(KIND, (workflow_id,)) is None:
        raise WorkflowNotFound(workflow_id)
    params = {
        "workflow": workflow_id,
        "cancelled": CANCELLED,
        "finished_channel": channel_name(tx.schema, "finished"),
        "cancel_channel": channel_name(tx.schema, "cancel"),
    }
    rows = await tx.rows(CANCEL_MEMBERS, params)
    cancelled = [row["id"] for row in rows if row["state"] == JobState.CANCELLED]
    asked = tuple(row["id"] for row in rows if row["state"] == JobState.RUNNING)
    changed = Wakeups(finished=tuple(cancelled), cancel=asked)
    return changed, await dependencies.settle(tx, cancelled)


async def retry(tx: Tx, workflow_id: str) -> Wakeups:
    """Run again the members that failed or were cancelled: the jobs that wait for them,
    retried ones too, count them as not ended."""
    if await tx.row(KIND, (workflow_id,)) is None:
        raise WorkflowNotFound(workflow_id)
    retried = [row["id"] for row in await tx.rows(RETRIED, (workflow_id,))]
    if not retried:
        return NOBODY
    await dependencies.uncount(tx, retried)
    try:
        async with tx.savepoint():
            states = [row["state"] for row in await tx.rows(RESET_RETRIED, {"retried": retried})]
    except pg_errors.UniqueViolation:
        raise InvalidStateError(
            f"workflow {workflow_id} cannot be retried: another job with the same arguments "
            "as one of its members is active"
        ) from None
    return await send_wakeups(tx, Wakeups(work=JobState.PENDING in states))
