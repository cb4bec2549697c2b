"""Migration 0024 on PostgreSQL: a schema left by the release before keeps its counts, except
where a job that others had counted as ended was retried on its own (that release left it
counted): then they wait for it again, and its end is counted once. A worker of the release
before calls `settle` by its old signature and counts as the new one does."""

from __future__ import annotations

from tests.backends.dependency_support import end, step, stored
from tests.migrations_before import postgres_before
from tests.postgres.test_postgres import query
from underway.backends.dependency_rules import DEPENDENCY_FAILED, NONE_FAILED
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.connection import channel_name
from underway.models import JobState

BEFORE = "0024_counted_by_transition"


async def test_a_dependency_retried_on_its_own_before_the_upgrade_is_waited_for_again(
    pg_schema: str, pg_url: str
) -> None:
    postgres_before(pg_schema, BEFORE)
    retried, other = step(), step()
    tolerant = step(retried, other, tolerate=1)
    old = PostgresBackend(pg_url, migrate=False)
    await old.open()
    try:
        await old.enqueue_many([retried, other, tolerant])
    finally:
        await old.close()
    # What the release before left: `retried` failed and was counted on its edge, then was
    # retried on its own, which left the edge counted.
    jobs, edges = f'"{pg_schema}".jobs', f'"{pg_schema}".dependencies'
    query(f"UPDATE {jobs} SET state = 'pending' WHERE id = %s RETURNING id", retried.id)
    query(f"UPDATE {edges} SET ended = 'failed' WHERE dependency_id = %s RETURNING 1", retried.id)
    query(
        f"UPDATE {jobs} SET waiting_on = 1, failed_dependencies = 1 WHERE id = %s RETURNING 1",
        tolerant.id,
    )

    backend = PostgresBackend(pg_url)
    await backend.open()
    try:
        waiting = await stored(backend, tolerant)
        assert (waiting.state, waiting.waiting_on, waiting.failed_dependencies) == (
            JobState.WAITING,
            2,
            0,
        )
        await end(backend, retried)
        assert (await stored(backend, tolerant)).waiting_on == 1
        # `other` ends as a worker of the release before ends it: its own statement, then
        # settle by the signature of migration 0018.
        query(f"UPDATE {jobs} SET state = 'completed' WHERE id = %s RETURNING 1", other.id)
        params = (
            DEPENDENCY_FAILED,
            NONE_FAILED,
            channel_name(pg_schema, "finished"),
            channel_name(pg_schema, "work"),
        )
        old_settle = (
            f'SELECT * FROM "{pg_schema}".settle(%s::text[], %s::text, %s::text, %s::text, '
            "%s::text)"
        )
        moved = query(old_settle, [other.id], *params)
        assert moved == [(tolerant.id, "pending")]
        released = await stored(backend, tolerant)
        assert (released.state, released.waiting_on) == (JobState.PENDING, 0)
    finally:
        await backend.close()
