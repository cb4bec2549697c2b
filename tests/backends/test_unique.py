"""Conformance: single-instance jobs (join, skip, unique_for windows, queue lanes), also racing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.waiting import eventually
from underway.backends.base import Backend
from underway.models import EnqueueResult, JobFilter, JobState, Outcome

from .conftest import make_backend
from .support import claim_one, lease, run_to_end, unique_job


async def test_join_returns_the_active_job(backend: Backend) -> None:
    first = await backend.enqueue(unique_job("join"))
    assert not first.joined
    second = await backend.enqueue(unique_job("join"))
    assert second.joined
    assert second.job.id == first.job.id
    await claim_one(backend)
    third = await backend.enqueue(unique_job("join"))
    assert third.joined
    assert third.job.state is JobState.RUNNING
    other = await backend.enqueue(unique_job("join", fingerprint="fp-2"))
    assert other.job.id != first.job.id


async def test_join_makes_a_new_job_once_the_previous_finished(backend: Backend) -> None:
    first = (await backend.enqueue(unique_job("join"))).job
    await run_to_end(backend)
    second = await backend.enqueue(unique_job("join"))
    assert not second.joined
    assert second.job.id != first.id


async def test_skip_records_a_skipped_row_pointing_at_the_active_job(backend: Backend) -> None:
    first = (await backend.enqueue(unique_job("skip"))).job
    refused = await backend.enqueue(unique_job("skip"))
    assert refused.skipped
    assert refused.job.id != first.id
    assert refused.job.state is JobState.SKIPPED
    assert refused.job.duplicate_of == first.id
    assert refused.job.skip_reason
    assert refused.job.finished_at is not None
    page = await backend.list_jobs(JobFilter(states=(JobState.SKIPPED,)))
    assert [j.id for j in page.jobs] == [refused.job.id]
    assert len(await backend.claim("w", ["default"], 5)) == 1


async def test_skip_without_recording_returns_the_active_job(backend: Backend) -> None:
    first = (await backend.enqueue(unique_job("skip"))).job
    refused = await backend.enqueue(unique_job("skip", record_skipped=False))
    assert refused.skipped
    assert refused.job.id == first.id
    assert (await backend.list_jobs(JobFilter())).total == 1


async def test_unique_for_counts_recently_completed_jobs(backend: Backend) -> None:
    done = (await backend.enqueue(unique_job("join", unique_for_s=3600))).job
    await run_to_end(backend, result=7)
    joined = await backend.enqueue(unique_job("join", unique_for_s=3600))
    assert joined.joined
    assert joined.job.id == done.id
    assert joined.job.result == 7
    skipped = await backend.enqueue(unique_job("skip", unique_for_s=3600))
    assert skipped.skipped
    assert skipped.job.duplicate_of == done.id


async def test_unique_for_window_ends(backend: Backend) -> None:
    done = (await backend.enqueue(unique_job("join", unique_for_s=0.2))).job
    await run_to_end(backend)

    async def fresh() -> EnqueueResult | None:
        result = await backend.enqueue(unique_job("join", unique_for_s=0.2))
        return None if result.joined else result

    assert (await eventually(fresh)).job.id != done.id


async def test_failed_jobs_do_not_count_in_the_window(backend: Backend) -> None:
    await backend.enqueue(unique_job("join", unique_for_s=3600))
    failed = await run_to_end(backend, "failed")
    again = await backend.enqueue(unique_job("join", unique_for_s=3600))
    assert not again.joined
    assert again.job.id != failed.id


async def test_queue_mode_stores_every_job_and_runs_one_at_a_time(backend: Backend) -> None:
    jobs = [(await backend.enqueue(unique_job("queue"))).job for _ in range(3)]
    assert len({j.id for j in jobs}) == 3
    first = await backend.claim("w", ["default"], 10)
    assert [j.id for j in first] == [jobs[0].id]
    assert await backend.claim("w", ["default"], 10) == []
    await backend.finish([Outcome(lease(first[0], "w"), "completed")])
    second = await backend.claim("w", ["default"], 10)
    assert [j.id for j in second] == [jobs[1].id]


async def test_concurrent_joins_from_many_tasks_make_one_job(
    backend: Backend, other_backend: Backend
) -> None:
    backends = [backend, other_backend] * 10
    results = await asyncio.gather(*(b.enqueue(unique_job("join")) for b in backends))
    assert len({r.job.id for r in results}) == 1
    assert sum(not r.joined for r in results) == 1
    assert (await backend.list_jobs(JobFilter())).total == 1


@pytest.mark.parametrize("mode", ["join", "skip"])
async def test_concurrent_enqueues_from_many_threads_make_one_active_job(
    backend: Backend, backend_url: str, mode: str
) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    async def enqueue_from_thread() -> None:
        own = make_backend(backend_url, migrate=False)
        await own.open()
        try:
            start.wait(timeout=10)
            results = await asyncio.gather(*(own.enqueue(unique_job(mode)) for _ in range(5)))
            ids.extend(r.job.duplicate_of or r.job.id for r in results)
        finally:
            await own.close()

    def thread_main() -> None:
        try:
            asyncio.run(enqueue_from_thread())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread_main) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(ids) == 20
    assert len(set(ids)) == 1
    active = await backend.list_jobs(JobFilter(states=(JobState.PENDING,)))
    assert active.total == 1
    skipped = await backend.list_jobs(JobFilter(states=(JobState.SKIPPED,)))
    assert skipped.total == (19 if mode == "skip" else 0)
