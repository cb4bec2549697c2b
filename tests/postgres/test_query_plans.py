"""PostgreSQL only: the generic plans of the statements underway prepares and repeats stay
on their indexes, with deep tables and busy workers."""

from __future__ import annotations

import psycopg

from tests.backends.support import enqueue, new_job
from tests.conftest import POSTGRES_URL
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.claim import CLAIM_PLAIN, CLAIM_PLAIN_ONE_QUEUE
from underway.backends.postgres.connection import PostgresPool, parse_postgres_url
from underway.backends.postgres.finish import CANCELLED, OUTCOME_TYPES, finish_statement
from underway.backends.postgres.leases import LOCK_HELD_LEASE, RENEW_LEASES
from underway.backends.postgres.maintenance import FIND_STALLED, PRUNE_EXPIRED


def _generic_plan(
    pg_url: str,
    schema: str,
    statement: str,
    types: str,
    args: str,
    names: tuple[str, ...] = ("worker", "queues", "limit"),
) -> str:
    """EXPLAIN ANALYZE of `statement` prepared and run with a generic plan, as underway's
    connections run their repeated statements; rolled back."""
    numbered = statement.replace("{schema}", f'"{schema}"')
    for number, name in enumerate(names, start=1):
        numbered = numbered.replace(f"%({name})s", f"${number}").replace(
            f"%({name})b", f"${number}"
        )
    numbered = numbered.replace("%s", "$1")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(f"PREPARE underway_probe({types}) AS {numbered}")
        conn.execute("BEGIN")
        lines = conn.execute(f"EXPLAIN (ANALYZE) EXECUTE underway_probe({args})").fetchall()
        conn.execute("ROLLBACK")
    return "\n".join(str(line[0]) for line in lines)


async def test_generic_plans_of_claim_prune_and_recovery_stay_on_indexes_with_a_deep_table(
    pg: PostgresBackend, pg_url: str, pg_schema: str
) -> None:
    """A generic plan does not know the LIMIT: joined to a deep table, the claim once became a
    hash join over every waiting row (270 jobs/s at 1M rows). It must stay on the indexes."""
    for _ in range(10):
        await pg.enqueue_many([new_job(queue="elsewhere") for _ in range(1000)])
    await pg.enqueue_many([new_job() for _ in range(60)])
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'ANALYZE "{pg_schema}".jobs')
    claim = _generic_plan(
        pg_url, pg_schema, CLAIM_PLAIN, "text, text[], int", "'w', '{default}', 50"
    )
    assert "Hash Join" not in claim, claim
    assert "jobs_id_key" in claim, claim
    one_queue = _generic_plan(
        pg_url,
        pg_schema,
        CLAIM_PLAIN_ONE_QUEUE,
        "text, text, int",
        "'w', 'default', 50",
        ("worker", "queue", "limit"),
    )
    assert "Hash Join" not in one_queue, one_queue
    assert "jobs_id_key" in one_queue, one_queue
    assert "jobs_ready" in one_queue, one_queue
    plan = _generic_plan(pg_url, pg_schema, PRUNE_EXPIRED, "int", "500")
    assert "Hash" not in plan, plan
    assert "jobs_id_key" in plan, plan
    stalled = _generic_plan(pg_url, pg_schema, FIND_STALLED, "float8", "0")
    assert "Hash" not in stalled, stalled
    assert "Seq Scan" not in stalled, stalled
    assert "jobs_running" in stalled, stalled


async def test_generic_plans_of_lease_writes_find_jobs_by_id_however_many_the_worker_runs(
    pg: PostgresBackend, pg_url: str, pg_schema: str
) -> None:
    """Statistics taken while few jobs ran once let the generic plans of a finish batch and a
    progress write read all of the worker's running jobs (jobs_running): their cost grew with
    the jobs the worker ran."""
    for _ in range(10):
        await pg.enqueue_many([new_job() for _ in range(1000)])
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'ANALYZE "{pg_schema}".jobs')
    running = [job for _ in range(4) for job in await pg.claim("w", ["default"], 500)]
    assert len(running) == 2000
    plan = _generic_plan(
        pg_url,
        pg_schema,
        finish_statement(("ids",)),
        "text[], int, text, text, float8, jsonb, jsonb, bool, text, text, jsonb",
        f"'{{{running[0].id}}}', 1, 'w', 'completed', 0, 'null', NULL, false, 'f', 'w', "
        f"'{CANCELLED}'",
        (*OUTCOME_TYPES, "finished_channel", "work_channel", "cancelled"),
    )
    assert "jobs_id_key" in plan, plan
    assert "jobs_running" not in plan, plan
    assert "Hash Join" not in plan, plan
    # A progress write and a requeue check one lease the same way.
    progress = _generic_plan(
        pg_url,
        pg_schema,
        LOCK_HELD_LEASE,
        "text, int, text",
        f"'{running[0].id}', 1, 'w'",
        ("id", "attempt", "worker"),
    )
    assert "jobs_id_key" in progress, progress
    assert "jobs_running" not in progress, progress
    # A heartbeat renews its leases the same way, one by one through the id.
    renew = _generic_plan(
        pg_url,
        pg_schema,
        RENEW_LEASES,
        "text[], int[], text, float8",
        f"'{{{running[0].id}}}', '{{1}}', 'w', 27.5",
        ("ids", "attempts", "worker", "max_age"),
    )
    assert "jobs_id_key" in renew, renew
    assert "jobs_running" not in renew, renew
    assert "Hash Join" not in renew, renew


async def test_a_one_queue_claim_is_planned_once_not_for_every_claim(
    pg: PostgresBackend, pg_schema: str
) -> None:
    """PostgreSQL keeps planning a prepared statement anew while its generic plan looks
    dearer than a plan for the values at hand. A queue list of unknown length did that to
    every claim (half an idle worker's claim time); the one-queue claim gets a generic plan."""
    statement = CLAIM_PLAIN_ONE_QUEUE.replace("{schema}", f'"{pg_schema}"')
    params = {"worker": "w", "queue": "default", "limit": 10}
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for _ in range(8):
            await enqueue(pg)
            assert conn.execute(statement, params, prepare=True).fetchall()
        row = conn.execute("SELECT generic_plans FROM pg_prepared_statements").fetchone()
    assert row is not None
    assert row[0] > 0


async def test_a_pool_connection_prepares_a_statement_the_first_time_it_sends_it() -> None:
    """Not after psycopg's default of five runs, each planned afresh for its values (the
    claim of limited jobs took milliseconds to plan)."""
    pool = PostgresPool(parse_postgres_url(POSTGRES_URL), min_size=1, max_size=1, timeout_s=5)
    await pool.open()
    try:
        assert await pool.statement(lambda tx: tx.rows("SELECT 41 + 1 AS answer")) == [
            {"answer": 42}
        ]
        prepared = await pool.statement(
            lambda tx: tx.rows("SELECT statement FROM pg_prepared_statements", planned=True)
        )
    finally:
        await pool.close()
    assert "SELECT 41 + 1 AS answer" in [row["statement"] for row in prepared]
