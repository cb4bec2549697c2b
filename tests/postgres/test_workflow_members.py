"""PostgreSQL only: the list of a workflow's members follows its jobs on every path that
stores or deletes one, the SQL of a worker of the release before included."""

from __future__ import annotations

import uuid

import psycopg

from tests.backends.support import new_job
from tests.conftest import POSTGRES_URL
from underway.backends.postgres import PostgresBackend
from underway.workflow_models import NewWorkflow

#: A member stored as a worker of the release before stores one: with no word of the list.
OLD_INSERT = """
INSERT INTO "{schema}".jobs (id, name, queue, state, args, max_attempts, run_at, retention_s,
    workflow_id)
VALUES (%s, 'noop', 'default', 'pending', '{{}}', 1, now(), 60, %s)
"""


async def test_a_member_stored_or_deleted_by_other_sql_joins_and_leaves_the_list(
    pg: PostgresBackend, pg_schema: str
) -> None:
    flow = NewWorkflow(str(uuid.uuid4()), "nightly", "workflow")
    first = new_job(workflow_id=flow.id)
    await pg.start_workflow(flow, [first])
    later = str(uuid.uuid4())
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(OLD_INSERT.format(schema=pg_schema), (later, flow.id))
    assert [job.id for job in await pg.workflow_jobs(flow.id)] == [first.id, later]
    listed = await pg.get_workflow(flow.id)
    assert listed is not None
    assert listed.counts == {"pending": 2}
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DELETE FROM "{pg_schema}".jobs WHERE id = %s', (first.id,))
    assert [job.id for job in await pg.workflow_jobs(flow.id)] == [later]
    rows = await pg.workflow_jobs(flow.id)
    assert {job.workflow_id for job in rows} == {flow.id}
