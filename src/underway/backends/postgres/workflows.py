"""Workflows and batches on PostgreSQL: `Backend`'s workflow methods (a part of
PostgresBackend, which gives the pool and the notifier), and the reads behind them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import psycopg

from ...errors import WorkflowNotFound
from ...models import EnqueueResult, Job, NewJob
from ...workflow_models import DependencyOutcome, NewWorkflow, Workflow, WorkflowPage
from .. import policy
from ..notifier import LocalNotifier
from ..rows import dependency_outcome
from . import reads, workflow_changes
from .connection import PostgresPool
from .dependencies import merged
from .tx import Row, Tx
from .values import NUL, refused

WORKFLOW = "SELECT id, name, kind, created_at FROM {schema}.workflows WHERE id = %s"
WORKFLOWS_NEWEST_FIRST = """
SELECT id, name, kind, created_at, count(*) OVER () AS total FROM {schema}.workflows
ORDER BY seq DESC LIMIT %s OFFSET %s
"""
COUNT_WORKFLOWS = "SELECT count(*) AS n FROM {schema}.workflows"
#: The members of the workflows of these ids, counted per state (found through the table
#: that lists them, which a member's claim and finish do not write).
MEMBER_COUNTS = """
SELECT m.workflow_id, j.state, count(*) AS n
FROM {schema}.workflow_members AS m JOIN {schema}.jobs AS j ON j.id = m.job_id
WHERE m.workflow_id = ANY(%(ids)s)
GROUP BY m.workflow_id, j.state
"""
#: The members of a workflow in the order stored, found as MEMBER_COUNTS finds them.
MEMBERS = """
SELECT j.* FROM {schema}.workflow_members AS m JOIN {schema}.jobs AS j ON j.id = m.job_id
WHERE m.workflow_id = %(id)s
ORDER BY m.seq
"""
#: The jobs a job depends on, in the order given; a pruned one has no row. A result that
#: is JSON null is answered as SQL NULL, which the client need not parse (a fan-in reads
#: thousands of them).
DEPENDENCIES = """
SELECT d.dependency_id, j.name, j.state,
    CASE WHEN j.result <> 'null'::jsonb THEN j.result END AS result, j.error
FROM {schema}.dependencies AS d
LEFT JOIN {schema}.jobs AS j ON j.id = d.dependency_id
WHERE d.job_id = %s
ORDER BY d.position
"""


class PostgresWorkflows:
    """The workflow methods of `Backend` on PostgreSQL."""

    _pool: PostgresPool
    _notifier: LocalNotifier

    async def start_workflow(
        self, workflow: NewWorkflow, jobs: Sequence[NewJob]
    ) -> list[EnqueueResult]:
        try:
            stored = await self._pool.transaction(
                lambda tx: workflow_changes.start(tx, workflow, jobs)
            )
        except psycopg.DataError as exc:
            raise refused(jobs[0].name if jobs else "?", exc) from None
        self._notifier.announce(policy.after_enqueue(stored))
        return stored

    async def add_to_batch(self, batch_id: str, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        if NUL in batch_id:
            raise WorkflowNotFound(batch_id)
        try:
            stored, settled = await self._pool.transaction(
                lambda tx: workflow_changes.add_to_batch(tx, batch_id, jobs)
            )
        except psycopg.DataError as exc:
            raise refused(jobs[0].name if jobs else "?", exc) from None
        self._notifier.announce(merged(policy.after_enqueue(stored), settled))
        return stored

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        if NUL in workflow_id:
            return None
        return await self._pool.transaction(lambda tx: get(tx, workflow_id))

    async def list_workflows(self, limit: int = 50, offset: int = 0) -> WorkflowPage:
        return await self._pool.transaction(lambda tx: list_newest_first(tx, limit, offset))

    async def workflow_jobs(self, workflow_id: str) -> list[Job]:
        if NUL in workflow_id:
            return []
        rows = await self._pool.transaction(lambda tx: tx.rows(MEMBERS, {"id": workflow_id}))
        return [reads.job(row) for row in rows]

    async def dependencies(self, job_id: str) -> list[DependencyOutcome]:
        if NUL in job_id:
            return []
        rows = await self._pool.transaction(lambda tx: tx.tuples(DEPENDENCIES, (job_id,)))
        return [dependency_outcome(*row) for row in rows]

    async def cancel_workflow(self, workflow_id: str) -> Workflow:
        if NUL in workflow_id:
            raise WorkflowNotFound(workflow_id)
        changed, settled = await self._pool.transaction(
            lambda tx: workflow_changes.cancel(tx, workflow_id)
        )
        self._notifier.announce(merged(changed, settled))
        return await self._must_get(workflow_id)

    async def retry_workflow(self, workflow_id: str) -> Workflow:
        if NUL in workflow_id:
            raise WorkflowNotFound(workflow_id)
        changed = await self._pool.transaction(lambda tx: workflow_changes.retry(tx, workflow_id))
        self._notifier.announce(changed)
        return await self._must_get(workflow_id)

    async def _must_get(self, workflow_id: str) -> Workflow:
        found = await self.get_workflow(workflow_id)
        if found is None:  # pruned since
            raise WorkflowNotFound(workflow_id)
        return found


async def get(tx: Tx, workflow_id: str) -> Workflow | None:
    row = await tx.row(WORKFLOW, (workflow_id,))
    return None if row is None else (await with_counts(tx, [row]))[0]


async def list_newest_first(tx: Tx, limit: int, offset: int) -> WorkflowPage:
    rows = await tx.rows(WORKFLOWS_NEWEST_FIRST, (limit, offset))
    total = rows[0]["total"] if rows else (await tx.row(COUNT_WORKFLOWS) or {"n": 0})["n"]
    return WorkflowPage(await with_counts(tx, rows), int(total))


async def with_counts(tx: Tx, rows: list[Row]) -> list[Workflow]:
    """The workflows of these rows, with their members counted per state."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for count in await tx.rows(MEMBER_COUNTS, {"ids": [row["id"] for row in rows]}):
        counts[count["workflow_id"]][count["state"]] = int(count["n"])
    return [
        Workflow(row["id"], row["name"], row["kind"], row["created_at"], counts.get(row["id"], {}))
        for row in rows
    ]
