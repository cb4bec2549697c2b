"""The history's rollup on every backend: each finished job folded once, by rollups racing
each other and by pruning; minutes older than a day folded into hours; losses recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from underway.backends import history_rules as rules
from underway.backends.base import Backend
from underway.backends.history_rules import Tally
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres import history as postgres_history
from underway.backends.sqlite import SQLiteBackend
from underway.backends.sqlite import history as sqlite_history
from underway.history_models import HistoryBucket, HistoryPoint
from underway.models import WorkerInfo

from .support import WORKER, claim_one, clock_moves_on, enqueue, run_to_end

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def totals(backend: Backend) -> dict[tuple[str, str], int]:
    """Runs per (name, state) over all the history."""
    found: dict[tuple[str, str], int] = {}
    for total in await backend.history_totals(LONG_AGO, datetime.now(UTC) + timedelta(days=1)):
        key = (total.name, total.state)
        found[key] = found.get(key, 0) + total.runs
    return found


async def finish_jobs(backend: Backend, n: int, name: str = "task", **overrides: object) -> None:
    for _ in range(n):
        await enqueue(backend, name=name, **overrides)
        await run_to_end(backend)


async def test_a_rollup_folds_each_finished_job_once(backend: Backend) -> None:
    await finish_jobs(backend, 3, name="send")
    await enqueue(backend, name="charge", max_attempts=1)
    await run_to_end(backend, "failed")
    await enqueue(backend, name="send")  # still waiting: not in the history
    await clock_moves_on()

    assert await backend.roll_up_history(settle_s=0) == 4
    assert await backend.roll_up_history(settle_s=0) == 0
    assert await totals(backend) == {("send", "completed"): 3, ("charge", "failed"): 1}
    buckets = await backend.history_buckets("send", LONG_AGO, 60)
    assert sum(b.runs for b in buckets) == sum(b.timed for b in buckets) == 3
    assert sum(sum(b.durations) for b in buckets) == sum(sum(b.waits) for b in buckets) == 3
    assert {b.span_s for b in buckets} == {60}
    series = await backend.history_series(LONG_AGO, 60, name="charge")
    assert [(p.queue, p.name, p.state, p.runs) for p in series] == [
        ("default", "charge", "failed", 1)
    ]


async def test_a_rollup_leaves_jobs_that_finished_within_the_settle_time(
    backend: Backend,
) -> None:
    await finish_jobs(backend, 2)
    assert await backend.roll_up_history(settle_s=3600) == 0
    assert await totals(backend) == {}
    await clock_moves_on()
    assert await backend.roll_up_history(settle_s=0) == 2


async def test_concurrent_rollups_fold_each_job_exactly_once(
    backend: Backend, other_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "FOLD_BATCH", 7)
    await finish_jobs(backend, 60)
    await clock_moves_on()

    async def drain(on: Backend) -> int:
        folded = 0
        for _ in range(40):
            folded += await on.roll_up_history(settle_s=0)
        return folded

    counts = await asyncio.gather(drain(backend), drain(other_backend), drain(backend))
    # A rollup that finds another one at work skips its turn: on a loaded machine all of
    # them may run out of turns before the last batch; what is left is folded now, once.
    rest = await drain(backend)

    assert sum(counts) + rest == 60
    assert await totals(backend) == {("task", "completed"): 60}


async def test_pruning_folds_the_jobs_the_rollup_has_not_reached(backend: Backend) -> None:
    await finish_jobs(backend, 2, retention_s=0.0)
    await clock_moves_on()
    assert await backend.roll_up_history(settle_s=0) == 2
    await finish_jobs(backend, 3, retention_s=0.0)
    await clock_moves_on()

    assert await backend.prune() == 5

    assert await totals(backend) == {("task", "completed"): 5}
    assert await backend.roll_up_history(settle_s=0) == 0


async def test_a_prune_racing_rollups_folds_each_job_exactly_once(
    backend: Backend, other_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "FOLD_BATCH", 5)
    await finish_jobs(backend, 40, retention_s=0.0)
    await clock_moves_on()

    async def roll_up(on: Backend) -> None:
        for _ in range(20):
            await on.roll_up_history(settle_s=0)

    async def prune() -> None:
        for _ in range(10):
            await backend.prune(batch_size=3)

    await asyncio.gather(roll_up(other_backend), prune(), roll_up(backend))
    await backend.prune()

    assert await totals(backend) == {("task", "completed"): 40}


async def test_a_rollup_writes_minutes_and_hours_and_deletes_old_ones(backend: Backend) -> None:
    await finish_jobs(backend, 2)
    await clock_moves_on()
    now = datetime.now(UTC).timestamp()
    two_days_ago = rules.bucket_start(now - 2 * 86400, rules.HOUR_S)
    six_weeks_ago = rules.bucket_start(now - 42 * 86400, rules.HOUR_S)
    await store(
        backend,
        {
            (60, two_days_ago + 60, "default", "task", "completed"): tally(2, slot=3),
            (3600, two_days_ago, "default", "task", "completed"): tally(2, slot=3),
            (3600, six_weeks_ago, "default", "task", "completed"): tally(4, slot=1),
        },
    )

    await backend.roll_up_history(settle_s=0)

    minutes = await backend.history_buckets("task", LONG_AGO, 60)
    hours = await backend.history_buckets("task", LONG_AGO, 3600)
    assert [(b.span_s, b.runs) for b in minutes] == [(60, 2)], "the old minute is gone"
    assert [(int(b.at.timestamp()), b.runs) for b in hours] == [
        (two_days_ago, 2),
        (rules.bucket_start(minutes[0].at.timestamp(), rules.HOUR_S), 2),
    ], "the old hour is gone; the jobs' hour was written with their minute"
    assert hours[0].durations[3] == 2


async def test_a_sweep_records_the_jobs_it_took_back_from_a_lost_worker(
    backend: Backend,
) -> None:
    now = datetime.now(UTC)
    await backend.heartbeat(WorkerInfo(WORKER, "box-7", 4242, ("default",), 4, now, now), [])
    job = await enqueue(backend, name="resize")
    await claim_one(backend)
    await clock_moves_on()

    await backend.sweep(stall_timeout_s=0)

    [loss] = await backend.worker_losses(now - timedelta(minutes=1))
    assert (loss.worker_id, loss.hostname, loss.pid) == (WORKER, "box-7", 4242)
    assert (loss.job_id, loss.name, loss.attempt, loss.became) == (job.id, "resize", 1, "pending")
    assert loss.last_seen_at is not None


def tally(runs: int, slot: int) -> Tally:
    found = Tally(runs=runs, timed=runs, duration_sum_s=runs * 0.01)
    found.durations[slot] = runs
    found.waits[0] = runs
    return found


async def store(backend: Backend, tallies: dict[rules.Key, Tally]) -> None:
    """Write buckets as a rollup would, one span at a time, through the dialect's writer."""
    for span in (60, 3600):
        some = {key: value for key, value in tallies.items() if key[0] == span}
        if isinstance(backend, PostgresBackend):
            await backend._pool.transaction(lambda tx, some=some: postgres_history.write(tx, some))
        else:
            assert isinstance(backend, SQLiteBackend)
            await backend._db.write(lambda c, some=some: sqlite_history.write(c, some))


async def test_waiting_queues_count_only_the_jobs_that_wait(backend: Backend) -> None:
    now = datetime.now(UTC)
    await backend.heartbeat(WorkerInfo(WORKER, "box", 1, ("served",), 4, now, now), [])
    await enqueue(backend, queue="lonely")
    await enqueue(backend, queue="lonely", rate_key="api", priority=1)
    await enqueue(backend, queue="lonely", run_at=now + timedelta(hours=1))
    await enqueue(backend)
    await run_to_end(backend)  # completed: not waiting
    await clock_moves_on()

    found = {q.name: q for q in await backend.waiting_queues(60.0)}

    assert found["lonely"].counts == {"pending": 2}
    assert found["lonely"].workers == ()
    assert found["lonely"].oldest_waiting_at is not None
    assert found["served"].workers == (WORKER,)
    assert "default" not in found


async def test_series_and_buckets_count_jobs_not_folded_yet_once(backend: Backend) -> None:
    await finish_jobs(backend, 2)
    await clock_moves_on()
    assert await backend.roll_up_history(settle_s=0) == 2
    await finish_jobs(backend, 1)

    def runs(points: list[HistoryPoint]) -> int:
        return sum(point.runs for point in points)

    def timed(buckets: list[HistoryBucket]) -> int:
        return sum(sum(bucket.durations) for bucket in buckets)

    assert runs(await backend.history_series(LONG_AGO, 60)) == 3
    assert runs(await backend.history_series(LONG_AGO, 60, name="other")) == 0
    assert timed(await backend.history_buckets("task", LONG_AGO, 60)) == 3
    await clock_moves_on()
    await backend.roll_up_history(settle_s=0)
    assert runs(await backend.history_series(LONG_AGO, 3600, queue="default")) == 3
    assert timed(await backend.history_buckets("task", LONG_AGO, 60)) == 3


async def test_totals_hold_the_buckets_that_start_within_the_range_to_the_fraction_of_a_second(
    backend: Backend,
) -> None:
    await finish_jobs(backend, 2)
    await clock_moves_on()
    await backend.roll_up_history(settle_s=0)
    buckets = await backend.history_buckets("task", LONG_AGO, 60)  # two if a minute turned
    start, half = buckets[-1].at, timedelta(seconds=0.5)

    async def runs(since: datetime, until: datetime) -> int:
        return sum(total.runs for total in await backend.history_totals(since, until))

    # What the overview asks in the first second of a minute: the minute so far is in it.
    assert await runs(start - timedelta(minutes=15) + half, start + half) == 2
    assert await runs(start, start + timedelta(minutes=1)) == buckets[-1].runs
    assert await runs(start - timedelta(minutes=1), start) == 2 - buckets[-1].runs
    assert await runs(start + half, start + timedelta(minutes=1)) == 0
