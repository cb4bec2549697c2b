"""PostgreSQL only: reads of several statements see one snapshot. A worker that stores its
queue's limits and then registers is seen with both or with neither; a job that ends during
the stats is counted running or finished, not both; a page and its count see the same jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.backends.support import claim_one, enqueue, lease
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.tx import AsyncTx
from underway.models import JobFilter, Outcome, QueueLimits, WorkerInfo


class HeldRead:
    """Holds a read at its second statement until `go` is set."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go = asyncio.Event()
        self.statements = 0


def hold_the_second_statement(monkeypatch: pytest.MonkeyPatch) -> HeldRead:
    """From now on, the second statement that reads rows waits for `go`: the read under
    test has read its first and not yet its second (later ones, another backend's, pass)."""
    held = HeldRead()
    rows = AsyncTx.rows

    async def held_rows(self: AsyncTx, text: str, params: Any = None, **options: Any) -> Any:
        held.statements += 1
        if held.statements == 2:
            held.reached.set()
            await held.go.wait()
        return await rows(self, text, params, **options)

    monkeypatch.setattr(AsyncTx, "rows", held_rows)
    return held


@asynccontextmanager
async def another_backend(pg_url: str) -> AsyncIterator[PostgresBackend]:
    backend = PostgresBackend(pg_url)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def test_a_worker_registered_meanwhile_is_seen_with_its_limits_or_not_at_all(
    pg: PostgresBackend, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await pg.pause_queue("email", by="ops")
    held = hold_the_second_statement(monkeypatch)
    reading = asyncio.create_task(pg.get_queue("email", 60.0))
    await asyncio.wait_for(held.reached.wait(), 10)
    async with another_backend(pg_url) as worker:
        now = datetime.now(UTC)
        await worker.sync_queue_limits([QueueLimits("email", concurrency=3)])
        await worker.heartbeat(WorkerInfo("w1", "host", 1, ("email",), 4, now, now), [])
    held.go.set()

    seen = await reading
    assert seen is not None
    assert (seen.paused, seen.concurrency, seen.workers) == (True, None, ())
    after = await pg.get_queue("email", 60.0)
    assert after is not None
    assert (after.concurrency, after.workers) == (3, ("w1",))


async def test_stats_count_a_job_that_ends_meanwhile_as_running_or_as_finished_not_both(
    pg: PostgresBackend, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await enqueue(pg)
    running = await claim_one(pg)
    held = hold_the_second_statement(monkeypatch)
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
    held = hold_the_second_statement(monkeypatch)
    reading = asyncio.create_task(pg.list_jobs(JobFilter()))
    await asyncio.wait_for(held.reached.wait(), 10)
    async with another_backend(pg_url) as other:
        await enqueue(other)
    held.go.set()

    page = await reading
    assert (len(page.jobs), page.total) == (2, 2)
