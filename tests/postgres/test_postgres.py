"""PostgreSQL only: URL and schema, migrations, connection names, LISTEN/NOTIFY, outages."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import psycopg
import pytest

from tests.backends.support import claim_one, enqueue, new_job
from tests.conftest import POSTGRES_URL
from tests.waiting import eventually
from underway.backends import open_backend
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.connection import parse_postgres_url
from underway.errors import ConfigurationError, StorageUnavailable, ValidationError
from underway.models import JobError, JobState, Lease, LogEntry, Outcome, ProgressUpdate

MIGRATIONS = [
    "0001_initial",
    "0002_recurring",
    "0003_claim_indexes",
    "0004_lean_write_indexes",
    "0005_jobs_keyed_by_id",
    "0006_worker_losses",
    "0007_flow_control",
    "0008_parked_limited_jobs",
    "0009_parking_by_key",
    "0010_workflows",
    "0011_awaited_jobs",
    "0012_trace_context",
    "0013_history",
    "0014_workflow_members_not_running",
    "0015_listing_by_id",
    "0016_rate_starts_per_key",
    "0017_edges_updated_in_place",
    "0018_settle_function",
    "0019_claim_limited_function",
    "0020_claim_limited_hashes_held_keys",
    "0021_claim_limited_parks_by_position",
    "0022_settle_takes_known_states",
    "0023_workflow_members_table",
    "0024_counted_by_transition",
]


def own_connections(pid: int | None = None) -> str:
    return f"underway:%:{pid or os.getpid()}"


def query(sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def terminate_own_connections() -> int:
    rows = query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
        own_connections(),
    )
    return len(rows)


def test_schema_parameter_is_taken_off_the_url() -> None:
    target = parse_postgres_url("postgresql://u@h:5/db?sslmode=disable&schema=jobs_1")
    assert target.schema == "jobs_1"
    assert target.conninfo == "postgresql://u@h:5/db?sslmode=disable"
    assert parse_postgres_url("postgresql://u@h/db").schema == "underway"
    with pytest.raises(ConfigurationError):
        parse_postgres_url("postgresql://u@h/db?schema=x;drop")


def test_open_backend_dispatches_postgres_urls(pg_url: str) -> None:
    backend = open_backend(pg_url, migrate=False)
    assert isinstance(backend, PostgresBackend)


async def test_unreachable_server_raises_storage_unavailable() -> None:
    backend = PostgresBackend(
        "postgresql://postgres@127.0.0.1:1/test?connect_timeout=1", connect_timeout_s=1.0
    )
    with pytest.raises(StorageUnavailable):
        await backend.open()


async def test_tables_live_in_the_configured_schema(pg: PostgresBackend, pg_schema: str) -> None:
    tables = query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY table_name",
        pg_schema,
    )
    assert [t[0] for t in tables] == [
        "dependencies",
        "history",
        "history_rollup",
        "job_logs",
        "jobs",
        "migrations",
        "queues",
        "rate_keys",
        "recurring",
        "worker_losses",
        "workers",
        "workflow_members",
        "workflows",
    ]
    versions = query(f'SELECT version FROM "{pg_schema}".migrations ORDER BY version')
    assert [row[0] for row in versions] == MIGRATIONS
    assert await pg.migrate() == []


async def test_concurrent_starts_apply_migrations_once(pg_url: str) -> None:
    backends = [PostgresBackend(pg_url, migrate=False) for _ in range(4)]
    for backend in backends:
        await backend.open()
    try:
        applied = await asyncio.gather(*(b.migrate() for b in backends))
        assert sorted(applied) == [[], [], [], MIGRATIONS]
    finally:
        for backend in backends:
            await backend.close()


async def test_connections_are_named_for_operators(pg: PostgresBackend) -> None:
    await eventually(lambda: asyncio.sleep(0, pg.listening))
    names = {
        row[0]
        for row in query(
            "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s",
            own_connections(),
        )
    }
    assert f"underway:pool:{os.getpid()}" in names
    assert f"underway:listener:{os.getpid()}" in names


async def test_notifications_reach_other_processes(pg: PostgresBackend, pg_url: str) -> None:
    other = PostgresBackend(pg_url, migrate=False)
    await other.open()
    try:
        seen: list[tuple[str, str]] = []
        for channel in ("work", "finished", "cancel"):
            other.subscribe(channel, lambda p, c=channel: seen.append((c, p)))
        await eventually(lambda: asyncio.sleep(0, other.listening))
        job = await enqueue(pg, queue="mail")
        await eventually(lambda: asyncio.sleep(0, ("work", "mail") in seen))
        claimed = await claim_one(pg, queues=("mail",))
        await pg.cancel(claimed.id)
        await eventually(lambda: asyncio.sleep(0, ("cancel", job.id) in seen))
        waiting = await enqueue(pg, delay_s=60)
        await pg.cancel(waiting.id)
        await eventually(lambda: asyncio.sleep(0, ("finished", waiting.id) in seen))
    finally:
        await other.close()


async def test_a_batch_of_outcomes_reaches_other_processes_job_by_job(
    pg: PostgresBackend, pg_url: str
) -> None:
    """One finish of 400 outcomes (ids sent comma-joined, 150 per NOTIFY) tells a listener in
    another process of every job once; a lane slot freed in the batch wakes workers."""
    other = PostgresBackend(pg_url, migrate=False)
    await other.open()
    try:
        finished: list[str] = []
        work: list[str] = []
        other.subscribe("finished", finished.append)
        other.subscribe("work", work.append)
        await eventually(lambda: asyncio.sleep(0, other.listening))
        await pg.enqueue_many([new_job(args={"n": i}) for i in range(399)])
        await pg.enqueue(new_job(lane="job:l", lane_limit=1))
        claimed = await pg.claim("w", ["default"], 400)
        work.clear()
        await pg.finish([Outcome(Lease(j.id, j.attempt, "w"), "completed") for j in claimed])
        await eventually(lambda: asyncio.sleep(0, len(finished) >= 400 and work))
        assert sorted(finished) == sorted(j.id for j in claimed)
    finally:
        await other.close()


async def test_killed_connections_are_replaced_and_listen_restored(
    pg: PostgresBackend, pg_url: str
) -> None:
    await eventually(lambda: asyncio.sleep(0, pg.listening))
    await enqueue(pg)
    assert terminate_own_connections() >= 2

    async def works() -> bool:
        try:
            await pg.enqueue(new_job())
        except StorageUnavailable:
            return False
        return True

    assert await eventually(works)
    await eventually(lambda: asyncio.sleep(0, pg.listening))
    seen: list[str] = []
    pg.subscribe("work", seen.append)

    async def heard_from_outside() -> bool:
        query(f"SELECT pg_notify('{parse_postgres_url(pg_url).schema}.work', 'outside')")
        await asyncio.sleep(0.05)
        return "outside" in seen

    assert await eventually(heard_from_outside)
    assert len(await pg.claim("w", ["default"], 10)) == 2


async def test_errors_during_an_outage_are_storage_unavailable(pg: PostgresBackend) -> None:
    query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        f"underway:pool:{os.getpid()}",
    )
    for _ in range(3):
        try:
            await pg.get("x")
        except StorageUnavailable:
            pass
        except psycopg.Error as exc:  # pragma: no cover - the failure being tested for
            pytest.fail(f"a psycopg error leaked: {exc!r}")


@pytest.mark.parametrize("bad", ["a\x00b", float("nan"), float("inf")])
async def test_arguments_postgres_cannot_store_are_refused(
    pg: PostgresBackend, bad: object
) -> None:
    job = new_job(args={"text": bad})
    with pytest.raises(ValidationError):
        await pg.enqueue(job)
    assert await pg.get(job.id) is None


async def test_the_words_nan_and_infinity_in_strings_are_stored(pg: PostgresBackend) -> None:
    args = {"text": "NaN and Infinity", "n": [1.5, -2], "nested": {"é": "Infinity"}}
    stored = (await pg.enqueue(new_job(args=args))).job
    assert (await pg.get(stored.id)).args == args  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["a\x00b", float("nan")])
async def test_a_result_postgres_cannot_store_fails_the_job_clearly(
    pg: PostgresBackend, bad: object
) -> None:
    await enqueue(pg)
    job = await claim_one(pg)
    lease = Lease(job.id, job.attempt, "worker-1")
    assert await pg.finish([Outcome(lease, "completed", result={"x": bad})]) == [True]
    failed = await pg.get(job.id)
    assert failed is not None
    assert failed.state is JobState.FAILED
    assert failed.error is not None
    assert failed.error.type == "UnstorableResult"


async def test_the_text_of_an_escaped_nul_is_stored(pg: PostgresBackend) -> None:
    """A backslash then "u0000" is text PostgreSQL stores, though its JSON holds `\\u0000`."""
    args = {"text": "\\u0000", "more": "\\\\\\u0000 and \\\\u0000"}
    stored = (await pg.enqueue(new_job(args=args))).job
    assert (await pg.get(stored.id)).args == args  # type: ignore[union-attr]
    job = await claim_one(pg)
    lease = Lease(job.id, job.attempt, "worker-1")
    error = JobError(type="E", message="the NUL character (\\u0000) cannot be stored")
    assert await pg.finish([Outcome(lease, "failed", error=error)]) == [True]
    failed = await pg.get(job.id)
    assert failed is not None
    assert failed.error is not None
    assert failed.error.message == error.message


async def test_nul_characters_in_free_text_are_replaced(pg: PostgresBackend) -> None:
    await enqueue(pg)
    job = await claim_one(pg)
    lease = Lease(job.id, job.attempt, "worker-1")
    line = LogEntry(at=datetime.now(UTC), message="a\x00b")
    await pg.save_progress([ProgressUpdate(lease, message="m\x00", logs=(line,))], 10)
    error = JobError(type="E", message="bad\x00", traceback="tb\x00")
    assert await pg.finish([Outcome(lease, "failed", error=error)]) == [True]
    stored = await pg.get(job.id)
    assert stored is not None
    assert stored.message == "m\ufffd"
    assert stored.error is not None
    assert stored.error.message == "bad\ufffd"
    assert [e.message for e in await pg.logs(job.id)] == ["a\ufffdb"]


async def test_an_unmigrated_schema_is_a_clear_configuration_error(pg_url: str) -> None:
    backend = PostgresBackend(pg_url, migrate=False)
    await backend.open()
    try:
        with pytest.raises(ConfigurationError, match="underway migrate"):
            await backend.get("x")
        assert await backend.migrate() == MIGRATIONS
        assert await backend.get("x") is None
    finally:
        await backend.close()


@pytest.mark.parametrize("bad", ["a\x00b", float("nan")])
async def test_a_blocking_enqueue_refuses_what_postgres_cannot_store(
    pg: PostgresBackend, bad: object
) -> None:
    job = new_job(args={"text": bad})
    with pytest.raises(ValidationError):
        await asyncio.to_thread(pg.enqueue_blocking, job)
    assert await pg.get(job.id) is None


async def test_a_blocking_enqueue_on_killed_connections_fails_clearly_then_recovers(
    pg: PostgresBackend,
) -> None:
    assert await asyncio.to_thread(pg.enqueue_blocking, new_job()) is not None
    query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        f"underway:producer:{os.getpid()}",
    )

    async def works() -> bool:
        try:
            await asyncio.to_thread(pg.enqueue_blocking, new_job())
        except StorageUnavailable:
            return False
        except psycopg.Error as exc:  # pragma: no cover - the failure being tested for
            pytest.fail(f"a psycopg error leaked: {exc!r}")
        return True

    assert await eventually(works)


def test_sync_enqueue_stores_plain_jobs_on_the_producer_connection(pg_url: str) -> None:
    """The sync `app.enqueue` inserts a plain job from the caller's thread (no loop hop);
    validation still comes first, and a job with a policy takes the general path."""
    from underway import App

    app = App(pg_url)
    try:

        @app.job
        def add(a: int) -> int:
            return a

        @app.job(unique="join")
        def once(a: int) -> int:
            return a

        with pytest.raises(ValidationError):
            add.enqueue(a="x")
        assert app.list() == []
        handle = add.enqueue(a=1)
        producers = query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            f"underway:producer:{os.getpid()}",
        )
        assert producers == [(1,)]
        assert app.get(handle.id).state is JobState.PENDING
        first, second = once.enqueue(a=1), once.enqueue(a=1)
        assert second.joined
        assert second.id == first.id
        later = add.options(delay=3600).enqueue(a=2)
        assert later.state is JobState.SCHEDULED
    finally:
        app.close()
