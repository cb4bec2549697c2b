"""Conformance: join/skip and bounded unique="queue" jobs stored together by one
`enqueue_many` resolve each as it would alone, in order: against the jobs stored before and
the ones the same call stores, also when two calls race."""

from __future__ import annotations

import asyncio

import pytest

from underway.backends import postgres, sqlite
from underway.backends.base import Backend
from underway.backends.postgres import backend as postgres_backend
from underway.backends.sqlite import enqueue as sqlite_enqueue
from underway.errors import QueueFull
from underway.models import JobFilter, JobState, NewJob

from .support import run_to_end, unique_job


async def listed(backend: Backend) -> int:
    return (await backend.list_jobs(JobFilter(limit=100))).total


async def test_a_batch_of_joins_stores_one_job_per_arguments(backend: Backend) -> None:
    stored_before = await backend.enqueue(unique_job("join", "fp-0"))
    requests = [
        unique_job("join", "fp-1"),
        unique_job("join", "fp-2"),
        unique_job("join", "fp-1"),
        unique_job("join", "fp-0"),
        unique_job("join", "fp-1"),
    ]
    results = await backend.enqueue_many(requests)
    assert [r.joined for r in results] == [False, False, True, True, True]
    assert [r.id for r in results] == [
        requests[0].id,
        requests[1].id,
        requests[0].id,
        stored_before.id,
        requests[0].id,
    ]
    for result in results:
        assert result.job == await backend.get(result.id)
    assert await listed(backend) == 3


async def test_a_batch_joins_a_recently_completed_job_within_its_window(backend: Backend) -> None:
    done = (await backend.enqueue(unique_job("join", unique_for_s=3600))).job
    await run_to_end(backend, result=7)
    results = await backend.enqueue_many(
        [unique_job("join", unique_for_s=3600), unique_job("join", "fp-2", unique_for_s=3600)]
    )
    assert (results[0].joined, results[0].id, results[0].job.result) == (True, done.id, 7)
    assert not results[1].joined
    assert await listed(backend) == 2


async def test_skips_not_recorded_answer_the_active_job(backend: Backend) -> None:
    requests = [unique_job("skip", record_skipped=False) for _ in range(3)]
    results = await backend.enqueue_many(requests)
    assert [(r.skipped, r.id) for r in results] == [
        (False, requests[0].id),
        (True, requests[0].id),
        (True, requests[0].id),
    ]
    assert results[2].job.state is JobState.PENDING
    assert await listed(backend) == 1


async def test_skips_recorded_in_a_batch_are_stored_as_skipped_rows(backend: Backend) -> None:
    requests = [unique_job("skip") for _ in range(3)]
    results = await backend.enqueue_many(requests)
    assert [r.job.state for r in results] == [JobState.PENDING] + [JobState.SKIPPED] * 2
    assert [r.job.duplicate_of for r in results] == [None, requests[0].id, requests[0].id]
    assert await listed(backend) == 3


async def test_a_batch_fills_a_bounded_queue_and_then_records_skips(backend: Backend) -> None:
    await backend.enqueue(unique_job("queue", queue_limit=3))
    requests = [unique_job("queue", queue_limit=3) for _ in range(4)]
    results = await backend.enqueue_many(requests)
    states = [r.job.state for r in results]
    assert states == [JobState.PENDING, JobState.PENDING] + [JobState.SKIPPED] * 2
    assert results[2].job.skip_reason == "queue_limit 3 reached: 3 runs wait"


async def test_a_batch_under_its_queue_limit_stores_every_job(backend: Backend) -> None:
    requests = [unique_job("queue", queue_limit=3) for _ in range(3)]
    requests += [unique_job("queue", "fp-2", queue_limit=1)]
    results = await backend.enqueue_many(requests)
    assert [r.id for r in results] == [job.id for job in requests]
    assert all(r.job.state is JobState.PENDING and not r.skipped for r in results)
    for result in results:
        assert result.job == await backend.get(result.id)


async def test_a_batch_that_overfills_a_refusing_queue_stores_nothing(backend: Backend) -> None:
    requests = [unique_job("join", "fp-0")]
    requests += [unique_job("queue", queue_limit=2, queue_full="raise") for _ in range(3)]
    with pytest.raises(QueueFull):
        await backend.enqueue_many(requests)
    assert await listed(backend) == 0


async def test_a_retried_batch_answers_the_jobs_it_stored(backend: Backend) -> None:
    requests = [unique_job("join", "fp-1"), unique_job("join", "fp-2")]
    first = await backend.enqueue_many(requests)
    again = await backend.enqueue_many(requests)
    assert [r.id for r in again] == [r.id for r in first]
    assert await listed(backend) == 2


async def test_racing_batches_store_one_job_per_arguments(
    backend: Backend, other_backend: Backend
) -> None:
    def batch() -> list[NewJob]:
        return [unique_job("join", f"fp-{i % 5}") for i in range(20)]

    results = await asyncio.gather(
        *(b.enqueue_many(batch()) for _ in range(4) for b in (backend, other_backend))
    )
    stored = {r.id for found in results for r in found}
    assert len(stored) == 5
    assert await listed(backend) == 5


async def test_a_batch_that_needs_no_skipped_row_stores_without_one_by_one(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is decided at once: storing one job at a time is not reached."""

    def one_by_one(*args: object) -> None:
        raise AssertionError("a job of the batch was stored on its own")

    await backend.enqueue(unique_job("join", "fp-0"))
    if isinstance(backend, postgres.PostgresBackend):
        monkeypatch.setattr(postgres_backend, "enqueue_one", one_by_one)
    else:
        assert isinstance(backend, sqlite.SQLiteBackend)
        monkeypatch.setattr(sqlite_enqueue, "enqueue_one", one_by_one)
    requests = [unique_job("join", f"fp-{i % 3}") for i in range(6)]
    requests += [unique_job("skip", "fp-9", record_skipped=False) for _ in range(2)]
    requests += [unique_job("queue", "fp-q", queue_limit=5) for _ in range(3)]
    results = await backend.enqueue_many(requests)
    assert sum(not (r.joined or r.skipped) for r in results) == 2 + 1 + 3
