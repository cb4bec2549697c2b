"""PostgreSQL only: a queue is read in one snapshot, so that a worker that stores its
queue's limits and then registers is seen with both or with neither, never registered
without its limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.waiting import eventually
from underway.backends.postgres import PostgresBackend, queues
from underway.models import QueueLimits, WorkerInfo

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
