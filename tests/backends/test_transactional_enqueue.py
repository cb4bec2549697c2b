"""Transactional enqueue: a job stored on the caller's own connection exists only if it commits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from tests.waiting import eventually
from underway import App
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.connection import parse_postgres_url
from underway.errors import ConfigurationError, JobNotFound
from underway.models import JobFilter, JobState
from underway.testing import drain

from .support import new_job, unique_job


@pytest.fixture
async def pg(pg_url: str) -> PostgresBackend:  # type: ignore[misc]
    backend = PostgresBackend(pg_url)
    await backend.open()
    yield backend
    await backend.close()


def conninfo(pg_url: str) -> str:
    return parse_postgres_url(pg_url).conninfo


async def waits_on_a_lock(info: str, pid: int) -> bool:
    async with await psycopg.AsyncConnection.connect(info, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        )
        row = await cur.fetchone()
    return row is not None and row[0] == "Lock"


async def test_rolled_back_enqueue_leaves_no_job(pg: PostgresBackend, pg_url: str) -> None:
    job = new_job()
    async with await psycopg.AsyncConnection.connect(conninfo(pg_url)) as conn:
        result = await pg.enqueue_on(conn, job)
        assert result.job.state is JobState.PENDING
        await conn.rollback()
    assert await pg.get(job.id) is None


async def test_committed_enqueue_is_claimed_and_wakes_listeners(
    pg: PostgresBackend, pg_url: str
) -> None:
    woken: list[str] = []
    pg.subscribe("work", woken.append)
    await eventually(lambda: asyncio.sleep(0, pg.listening))
    job = new_job(queue="tx")
    async with await psycopg.AsyncConnection.connect(conninfo(pg_url)) as conn:
        await pg.enqueue_on(conn, job)
        assert await pg.get(job.id) is None, "invisible before commit"
        await conn.commit()
    claimed = await pg.claim("w", ["tx"], 1)
    assert [j.id for j in claimed] == [job.id]
    await eventually(lambda: asyncio.sleep(0, "tx" in woken))


async def test_join_inside_a_caller_transaction(pg: PostgresBackend, pg_url: str) -> None:
    first = (await pg.enqueue(unique_job("join"))).job
    with psycopg.connect(conninfo(pg_url)) as conn:
        joined = await pg.enqueue_on(conn, unique_job("join"))
        conn.commit()
    assert joined.joined
    assert joined.job.id == first.id
    assert (await pg.list_jobs(JobFilter())).total == 1


def test_app_enqueue_with_a_sync_connection(pg_url: str) -> None:
    app = App(pg_url)

    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    try:
        with psycopg.connect(conninfo(pg_url)) as conn:
            dropped = add.options(connection=conn).enqueue(1, 2)
            conn.rollback()
            kept = add.options(connection=conn).enqueue(2, 3)
            conn.commit()
        with pytest.raises(JobNotFound):
            app.get(dropped.id)
        assert [job.id for job in drain(app)] == [kept.id]
        assert kept.result(timeout=0) == 5
    finally:
        app.close()


async def test_app_enqueue_async_with_an_async_connection(pg_url: str) -> None:
    app = App(pg_url)

    @app.job
    def double(n: int) -> int:
        return 2 * n

    try:
        async with await psycopg.AsyncConnection.connect(conninfo(pg_url)) as conn:
            handle = await double.options(connection=conn).enqueue_async(4)
            await conn.commit()
        assert (await app.get_async(handle.id)).state is JobState.PENDING
    finally:
        await asyncio.to_thread(app.close)


def test_sqlite_refuses_connection_argument(tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}")

    @app.job
    def noop() -> None:
        return None

    try:
        with pytest.raises(ConfigurationError):
            noop.options(connection=object()).enqueue()
    finally:
        app.close()


async def test_enqueue_inside_a_running_transaction_rolls_back_with_it(
    pg: PostgresBackend, pg_url: str
) -> None:
    job = new_job()
    with psycopg.connect(conninfo(pg_url)) as conn:
        conn.execute("SELECT 1")
        await pg.enqueue_on(conn, job)
        conn.execute("SELECT 2")
        conn.rollback()
    assert await pg.get(job.id) is None


async def test_enqueue_on_an_autocommit_connection_commits_at_once(
    pg: PostgresBackend, pg_url: str
) -> None:
    job = new_job()
    async with await psycopg.AsyncConnection.connect(conninfo(pg_url), autocommit=True) as conn:
        await pg.enqueue_on(conn, job)
        assert await pg.get(job.id) is not None


@pytest.mark.parametrize("first_commits", [True, False])
async def test_racing_joins_in_caller_transactions_never_lose_the_job(
    pg: PostgresBackend, pg_url: str, first_commits: bool
) -> None:
    """The second enqueue waits for the first transaction: it joins a commit, and after a
    rollback it creates the job itself (never zero jobs when a committed caller asked)."""
    info = conninfo(pg_url)
    async with (
        await psycopg.AsyncConnection.connect(info) as first,
        await psycopg.AsyncConnection.connect(info) as second,
    ):
        mine = await pg.enqueue_on(first, unique_job("join"))
        racing = asyncio.create_task(pg.enqueue_on(second, unique_job("join")))
        await eventually(lambda: waits_on_a_lock(info, second.info.backend_pid))
        assert not racing.done()
        await (first.commit() if first_commits else first.rollback())
        theirs = await asyncio.wait_for(racing, timeout=10)
        await second.commit()
    assert theirs.joined is first_commits
    assert (theirs.job.id == mine.job.id) is first_commits
    active = await pg.list_jobs(JobFilter(states=(JobState.PENDING,)))
    assert [j.id for j in active.jobs] == [theirs.job.id]
