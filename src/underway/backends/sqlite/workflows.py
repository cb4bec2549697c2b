"""Workflows and batches on SQLite: `Backend`'s workflow methods (a part of SQLiteBackend,
which gives the connections, the clock and `_announce`), and the reads behind them."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence

from ...errors import WorkflowNotFound
from ...models import EnqueueResult, Job, NewJob
from ...workflow_models import DependencyOutcome, NewWorkflow, Workflow, WorkflowPage
from .. import policy
from ..base import Clock
from ..codecs import epoch_to_datetime, json_text_to_data
from ..rows import dependency_outcome
from . import reads, workflow_changes
from .connection import SQLiteConnection

WORKFLOW = "SELECT id, name, kind, created_at FROM underway_workflows WHERE id = ?"
WORKFLOWS_NEWEST_FIRST = """
SELECT id, name, kind, created_at FROM underway_workflows ORDER BY seq DESC LIMIT ? OFFSET ?
"""
COUNT_WORKFLOWS = "SELECT count(*) FROM underway_workflows"
#: The members of the workflows of these ids (a JSON array), counted per state.
MEMBER_COUNTS = """
SELECT workflow_id, state, count(*) AS n FROM underway_jobs
WHERE workflow_id IN (SELECT value FROM json_each(?))
GROUP BY workflow_id, state
"""
MEMBERS = "SELECT * FROM underway_jobs WHERE workflow_id = ? ORDER BY seq"
#: The jobs a job depends on, in the order given; a pruned one has no row.
DEPENDENCIES = """
SELECT edge.dependency_id, job.name, job.state, job.result, job.error
FROM underway_dependencies AS edge
LEFT JOIN underway_jobs AS job ON job.id = edge.dependency_id
WHERE edge.job_id = ?
ORDER BY edge.position
"""


class SQLiteWorkflows:
    """The workflow methods of `Backend` on SQLite."""

    _db: SQLiteConnection
    _reader: SQLiteConnection
    _clock: Clock
    _announce: Callable[..., None]

    async def start_workflow(
        self, workflow: NewWorkflow, jobs: Sequence[NewJob]
    ) -> list[EnqueueResult]:
        now = self._clock.now()
        stored = await self._db.write(lambda c: workflow_changes.start(c, workflow, jobs, now))
        self._announce(policy.after_enqueue(stored))
        return stored

    async def add_to_batch(self, batch_id: str, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
        now = self._clock.now()
        stored, settled = await self._db.write(
            lambda c: workflow_changes.add_to_batch(c, batch_id, jobs, now)
        )
        self._announce(policy.after_enqueue(stored), settled)
        return stored

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        return await self._reader.read(lambda c: get(c, workflow_id))

    async def list_workflows(self, limit: int = 50, offset: int = 0) -> WorkflowPage:
        return await self._reader.read(lambda c: list_newest_first(c, limit, offset))

    async def workflow_jobs(self, workflow_id: str) -> list[Job]:
        return await self._reader.read(
            lambda c: [reads.job(row) for row in c.execute(MEMBERS, (workflow_id,))]
        )

    async def dependencies(self, job_id: str) -> list[DependencyOutcome]:
        return await self._reader.read(lambda c: dependency_outcomes(c, job_id))

    async def cancel_workflow(self, workflow_id: str) -> Workflow:
        now = self._clock.now()
        changed, settled = await self._db.write(
            lambda c: workflow_changes.cancel(c, workflow_id, now)
        )
        self._announce(changed, settled)
        return await self._must_get(workflow_id)

    async def retry_workflow(self, workflow_id: str) -> Workflow:
        now = self._clock.now()
        changed = await self._db.write(lambda c: workflow_changes.retry(c, workflow_id, now))
        self._announce(changed)
        return await self._must_get(workflow_id)

    async def _must_get(self, workflow_id: str) -> Workflow:
        found = await self.get_workflow(workflow_id)
        if found is None:  # pruned since
            raise WorkflowNotFound(workflow_id)
        return found


def get(conn: sqlite3.Connection, workflow_id: str) -> Workflow | None:
    row = conn.execute(WORKFLOW, (workflow_id,)).fetchone()
    return None if row is None else with_counts(conn, [row])[0]


def list_newest_first(conn: sqlite3.Connection, limit: int, offset: int) -> WorkflowPage:
    rows = conn.execute(WORKFLOWS_NEWEST_FIRST, (limit, offset)).fetchall()
    total = conn.execute(COUNT_WORKFLOWS).fetchone()[0]
    return WorkflowPage(with_counts(conn, rows), int(total))


def with_counts(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Workflow]:
    """The workflows of these rows, with their members counted per state."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    ids = json.dumps([row["id"] for row in rows])
    for count in conn.execute(MEMBER_COUNTS, (ids,)):
        counts[count["workflow_id"]][count["state"]] = int(count["n"])
    workflows = []
    for row in rows:
        created_at = epoch_to_datetime(row["created_at"])
        assert created_at is not None
        counted = counts.get(row["id"], {})
        workflows.append(Workflow(row["id"], row["name"], row["kind"], created_at, counted))
    return workflows


def dependency_outcomes(conn: sqlite3.Connection, job_id: str) -> list[DependencyOutcome]:
    """How the jobs `job_id` depends on stand, in order; a pruned one reads as cancelled.
    Read as plain tuples, and results and errors parsed only where there are some: a
    fan-in reads thousands."""
    cursor = conn.cursor()
    cursor.row_factory = None
    return [
        dependency_outcome(
            dependency_id,
            name,
            state,
            None if result is None or result == "null" else json_text_to_data(result),
            None if error is None else json_text_to_data(error),
        )
        for dependency_id, name, state, result, error in cursor.execute(DEPENDENCIES, (job_id,))
    ]
