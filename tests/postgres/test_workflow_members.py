"""PostgreSQL only: the list of a workflow's members follows its jobs on every path that
stores or deletes one, the SQL of a worker of the release before included."""

from __future__ import annotations

import uuid

from tests.backends.support import new_job
from tests.postgres.test_postgres import query
from underway.backends.postgres import PostgresBackend
from underway.workflow_models import NewWorkflow

#: A member stored as a worker of the release before stores one: with no word of the list.
OLD_INSERT = """
INSERT INTO "{schema}".jobs (id, name, queue, state, args, max_attempts, run_at, retention_s,
    workflow_id)
VALUES (%s, 'noop', 'default', 'pending', '{{}}', 1, now(), 60, %s)
RETURNING id
"""


async def test_a_member_stored_or_deleted_by_other_sql_joins_and_leaves_the_list(
    pg: PostgresBackend, pg_schema: str
) -> None:
    flow = NewWorkflow(str(uuid.uuid4()), "nightly", "workflow")
    first = new_job(workflow_id=flow.id)
    await pg.start_workflow(flow, [first])
    later = str(uuid.uuid4())
    assert query(OLD_INSERT.format(schema=pg_schema), later, flow.id) == [(later,)]
    assert [job.id for job in await pg.workflow_jobs(flow.id)] == [first.id, later]
    listed = await pg.get_workflow(flow.id)
    assert listed is not None
    assert listed.counts == {"pending": 2}
    deleted = query(f'DELETE FROM "{pg_schema}".jobs WHERE id = %s RETURNING id', first.id)
    assert deleted == [(first.id,)]
    listed_ids = f'SELECT job_id FROM "{pg_schema}".workflow_members WHERE workflow_id = %s'
    assert query(listed_ids, flow.id) == [(later,)]
    rows = await pg.workflow_jobs(flow.id)
    assert [job.id for job in rows] == [later]
    assert {job.workflow_id for job in rows} == {flow.id}
