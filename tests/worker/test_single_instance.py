"""Single-instance policies in one process: join, skip, queue, unique_for, run-or-join; the
jobs run by a drain, but for run-or-join, whose callers wait on a worker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import App, DuplicateJobError, JobFailed, JobSkipped, JobState
from underway.models import EnqueueResult, NewJob
from underway.testing import Clock, drain


def test_join_returns_the_active_job_and_shares_its_exception(app: App) -> None:
    @app.job(unique="join")
    def rebuild(tenant: int) -> None:
        raise RuntimeError(f"tenant {tenant} broke")

    first = rebuild.enqueue(tenant=1)
    second = rebuild.enqueue(tenant=1)
    other = rebuild.enqueue(tenant=2)
    assert (first.joined, second.joined, other.joined) == (False, True, False)
    assert second.id == first.id != other.id
    drain(app)
    errors = []
    for handle in (first, second):
        with pytest.raises(JobFailed) as caught:
            handle.result(timeout=0)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "tenant 1 broke" in errors[0]


def test_skip_records_a_skipped_request_pointing_at_the_active_job(app: App) -> None:
    @app.job(unique="skip")
    def refresh(tenant: int) -> None: ...

    active = refresh.enqueue(tenant=1)
    skipped = refresh.enqueue(tenant=1)
    assert skipped.skipped
    assert skipped.job.state is JobState.SKIPPED
    assert skipped.duplicate_of == active.id
    assert f"job {active.id}" in (skipped.job.skip_reason or "")
    with pytest.raises(JobSkipped):
        skipped.result(timeout=1)
    with pytest.raises(DuplicateJobError) as caught:
        refresh.options(on_duplicate="raise").enqueue(tenant=1)
    assert caught.value.active_id == active.id
    assert len(app.list(name="refresh")) == 2, "on_duplicate='raise' stores nothing"


def test_unique_for_also_counts_recently_completed_jobs(clocked_app: App, clock: Clock) -> None:
    app = clocked_app

    @app.job(unique="join", unique_for=timedelta(minutes=1))
    def debounced(key: str) -> str:
        return key

    first = debounced.enqueue(key="a")
    drain(app)
    assert first.result(timeout=0) == "a"
    clock.advance(59)
    again = debounced.enqueue(key="a")
    assert again.joined
    assert again.id == first.id
    clock.advance(2)
    fresh = debounced.enqueue(key="a")
    assert not fresh.joined
    assert fresh.id != first.id


def test_queue_mode_stores_every_request_and_runs_them_one_at_a_time(app: App) -> None:
    running: list[int] = []
    peak: list[int] = []

    @app.job(unique="queue")
    def serial(n: int) -> int:
        running.append(n)
        peak.append(len(running))
        threading.Event().wait(0.02)
        running.remove(n)
        return n

    # unique_by is not set, so the fingerprint includes n: make all identical instead.
    handles = [serial.enqueue(n=1) for _ in range(5)]
    assert len({h.id for h in handles}) == 5
    drain(app, concurrency=5)
    assert [h.result(timeout=0) for h in handles] == [1] * 5
    assert max(peak) == 1


def test_run_is_run_or_join_even_for_jobs_not_declared_unique(app: App) -> None:
    release = threading.Event()
    calls: list[int] = []

    @app.job
    def compute(n: int) -> int:
        calls.append(n)
        release.wait(10)
        return n * n

    app.start_worker(fast_settings())
    backend = app.runtime.call(app.backend())
    enqueued: list[object] = []
    real_enqueue = backend.enqueue

    async def counting_enqueue(job: NewJob) -> EnqueueResult:
        enqueued.append(job)
        return await real_enqueue(job)

    backend.enqueue = counting_enqueue  # type: ignore[method-assign]
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(compute.run(n=3))) for _ in range(5)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(enqueued) == 5 and calls)
    assert len(app.list(name="compute")) == 1
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == [9] * 5
    assert calls == [3]
