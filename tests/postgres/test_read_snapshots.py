"""PostgreSQL only: reads of several statements see one snapshot. A worker that stores its
queue's limits and then registers is seen with both or with neither; a job that ends during
the stats is counted running or finished, not both; a page and its count see the same jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tests.backends.support import claim_one, enqueue, lease
from tests.conftest import POSTGRES_URL
from tests.waiting import eventually
from underway.backends.postgres import PostgresBackend, queues
from underway.backends.postgres.tx import Tx
from underway.models import JobFilter, Outcome, QueueLimits, WorkerInfo

#: The advisory lock that holds the read between its statements.
HOLD = 7_700_001


@pytest.fixture
async def holder() -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        yield conn


async def waiting_on_the_hold(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
    cursor = await conn.execute(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted",
        (HOLD,),
    )
    return await cursor.fetchone() is not None


async def test_a_worker_registered_meanwhile_is_seen_with_its_limits_or_not_at_all(
    pg: PostgresBackend,
    pg_url: str,
    holder: psycopg.AsyncConnection[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await pg.pause_queue("email", by="ops")
    # The read's second statement (of three) waits on the hold, after its first has read
    # the queue's settings.
    held_counts = (
        f"SELECT * FROM ({queues.JOB_COUNTS}) AS counts "
        f"WHERE (SELECT count(*) FROM (SELECT pg_advisory_xact_lock_shared({HOLD})) AS h) = 1"
    )
    monkeypatch.setattr(queues, "JOB_COUNTS", held_counts)
    await holder.execute("SELECT pg_advisory_lock(%s)", (HOLD,))
    reading = asyncio.create_task(pg.get_queue("email", 60.0))
    await eventually(lambda: waiting_on_the_hold(holder))

    worker = PostgresBackend(pg_url)
    await worker.open()
    try:
        now = datetime.now(UTC)
        await worker.sync_queue_limits([QueueLimits("email", concurrency=3)])
        await worker.heartbeat(WorkerInfo("w1", "host", 1, ("email",), 4, now, now), [])
    finally:
        await worker.close()
    await holder.execute("SELECT pg_advisory_unlock(%s)", (HOLD,))

    seen = await reading
    assert seen is not None
    assert (seen.paused, seen.concurrency, seen.workers) == (True, None, ())
    after = await pg.get_queue("email", 60.0)
    assert after is not None
    assert (after.concurrency, after.workers) == (3, ("w1",))


class HeldRead:
    """Holds the first `Tx.row` call (a read's later statement) until `go` is set."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go = asyncio.Event()


def hold_the_first_row_read(monkeypatch: pytest.MonkeyPatch) -> HeldRead:
    held = HeldRead()
    row = Tx.row

    async def held_row(self: Tx, text: str, params: Any = None, *, planned: bool = False) -> Any:
        if not held.reached.is_set():
            held.reached.set()
            await held.go.wait()
        return await row(self, text, params, planned=planned)

    monkeypatch.setattr(Tx, "row", held_row)
    return held


@asynccontextmanager
async def another_backend(pg_url: str) -> AsyncIterator[PostgresBackend]:
    backend = PostgresBackend(pg_url)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def test_stats_count_a_job_that_ends_meanwhile_as_running_or_as_finished_not_both(
    pg: PostgresBackend, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await enqueue(pg)
    running = await claim_one(pg)
    held = hold_the_first_row_read(monkeypatch)
    reading = asyncio.create_task(pg.stats())
    await asyncio.wait_for(held.reached.wait(), 10)
    async with another_backend(pg_url) as other:
        assert await other.finish([Outcome(lease(running), "completed")]) == [True]
    held.go.set()

    seen = await reading
    assert (seen.counts, seen.finished_last_minute) == ({"running": 1}, 0)


async def test_a_page_and_its_count_see_the_same_jobs(
    pg: PostgresBackend, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await enqueue(pg)
    await enqueue(pg)
    held = hold_the_first_row_read(monkeypatch)
    reading = asyncio.create_task(pg.list_jobs(JobFilter()))
    await asyncio.wait_for(held.reached.wait(), 10)
    async with another_backend(pg_url) as other:
        await enqueue(other)
    held.go.set()

    page = await reading
    assert (len(page.jobs), page.total) == (2, 2)
