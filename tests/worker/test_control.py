"""Cancel, progress and logs, graceful shutdown, retention, retry and delete."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import (
    App,
    InvalidStateError,
    JobCancelled,
    JobContext,
    JobFailed,
    JobNotFound,
    JobState,
)
from underway.testing import TestContext, drain


def test_cancelling_a_pending_job_is_immediate(app: App) -> None:
    @app.job
    def idle() -> None: ...

    handle = idle.enqueue()
    assert app.cancel(handle.id).state is JobState.CANCELLED
    with pytest.raises(JobCancelled):
        handle.result(timeout=1)
    with pytest.raises(InvalidStateError, match="already cancelled"):
        app.cancel(handle.id)


def test_cancelling_a_running_async_job_cancels_its_task_within_a_second(app: App) -> None:
    started, stopped = threading.Event(), threading.Event()

    @app.job
    async def endless() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    app.start_worker(fast_settings())
    handle = endless.enqueue()
    assert started.wait(5)
    asked = time.monotonic()
    app.cancel(handle.id)
    assert stopped.wait(1.0)
    with pytest.raises(JobCancelled):
        handle.result(timeout=5)
    assert time.monotonic() - asked < 1.5
    assert app.get(handle.id).result is None


def test_cancel_from_another_process_reaches_a_sync_job(
    app: App, make_app: Callable[[], App]
) -> None:
    started = threading.Event()
    noticed: list[float] = []

    @app.job
    def polite(ctx: JobContext) -> str:
        started.set()
        while not ctx.cancelled:
            time.sleep(0.01)
        noticed.append(time.monotonic())
        return "stopped"

    app.start_worker(fast_settings(lease_check_interval=0.5))
    handle = polite.enqueue()
    assert started.wait(5)
    other = make_app()  # its own connection: no in-process notification reaches the worker
    asked = time.monotonic()
    other.cancel(handle.id)
    wait_until(lambda: noticed, timeout=5)
    assert noticed[0] - asked < 1.0
    job = wait_until(lambda: (j := app.get(handle.id)).state.is_finished and j)
    assert job.state is JobState.CANCELLED
    assert job.result is None, "a cancelled job's result is not stored"


def test_a_sync_job_blocked_in_wait_cancelled_wakes_on_cancel(app: App) -> None:
    started = threading.Event()

    @app.job
    def waiter(ctx: JobContext) -> bool:
        started.set()
        return ctx.wait_cancelled(30)

    app.start_worker(fast_settings())
    handle = waiter.enqueue()
    assert started.wait(5)
    asked = time.monotonic()
    app.cancel(handle.id)
    job = wait_until(lambda: (j := app.get(handle.id)).state.is_finished and j, timeout=10)
    assert job.state is JobState.CANCELLED
    assert time.monotonic() - asked < 5


def test_wait_cancelled_answers_at_once_after_a_cancel_and_times_out_before() -> None:
    ctx = TestContext(job_id="j")
    assert ctx.wait_cancelled(0.01) is False
    assert not ctx.cancelled
    ctx.request_cancel("cancelled by request")
    ctx.request_cancel("a second reason is ignored")
    assert ctx.cancelled
    assert ctx.cancel_reason == "cancelled by request"
    assert ctx.wait_cancelled(0) is True
    fresh = TestContext(job_id="k")
    fresh.request_cancel("timed out")
    assert fresh.wait_cancelled(0) is True, "cancelled before anyone waited"


def test_a_job_that_ignores_cancellation_is_still_marked_cancelled(app: App) -> None:
    started, release = threading.Event(), threading.Event()

    @app.job
    def stubborn() -> str:
        started.set()
        release.wait(10)
        return "finished anyway"

    app.start_worker(fast_settings())
    handle = stubborn.enqueue()
    assert started.wait(5)
    assert app.cancel(handle.id).cancel_requested
    release.set()
    with pytest.raises(JobCancelled):
        handle.result(timeout=5)
    assert app.get(handle.id).result is None


def test_an_async_job_that_swallows_its_cancel_is_marked_cancelled(app: App) -> None:
    """An async job runs in its execution's own task: a cancel it swallows must still mark it
    cancelled, and leave the worker running jobs as before."""
    started, swallowed = threading.Event(), threading.Event()

    @app.job
    async def stubborn() -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.sleep(0.05)
        return "finished anyway"

    @app.job
    async def next_one() -> str:
        return "ran"

    app.start_worker(fast_settings())
    handle = stubborn.enqueue()
    assert started.wait(5)
    app.cancel(handle.id)
    assert swallowed.wait(2)
    with pytest.raises(JobCancelled):
        handle.result(timeout=5)
    assert app.get(handle.id).result is None
    assert next_one.enqueue().result(timeout=5) == "ran"


def test_progress_and_logs_are_visible_while_the_job_runs(app: App) -> None:
    release = threading.Event()

    @app.job
    def report(ctx: JobContext) -> None:
        ctx.progress(40, "reading rows")
        ctx.log("first line")
        ctx.log("second line", level="warning")
        release.wait(10)

    app.start_worker(fast_settings(flush_interval=0.05))
    handle = report.enqueue()
    job = wait_until(lambda: (j := app.get(handle.id)).log_count == 2 and j)
    assert (job.state, job.progress, job.message) == (JobState.RUNNING, 40, "reading rows")
    lines = app.logs(handle.id)
    assert [(line.message, line.level) for line in lines] == [
        ("first line", "info"),
        ("second line", "warning"),
    ]
    release.set()
    handle.result(timeout=5)


def test_logs_are_written_in_batches_when_the_batch_fills(app: App) -> None:
    release = threading.Event()

    @app.job
    def chatty(ctx: JobContext) -> None:
        for i in range(10):
            ctx.log(f"line {i}")
        release.wait(10)

    # A long flush interval: only a full batch (size 10) can trigger the write.
    app.start_worker(fast_settings(flush_interval=60, flush_batch_size=10))
    handle = chatty.enqueue()
    wait_until(lambda: app.get(handle.id).log_count == 10, timeout=5)
    release.set()
    handle.result(timeout=5)


def test_log_entries_are_capped_and_the_overflow_counted(app: App) -> None:
    @app.job
    def flood(ctx: JobContext) -> None:
        for i in range(25):
            ctx.log(f"line {i}")

    app.start_worker(fast_settings(max_log_entries=10, flush_batch_size=4))
    handle = flood.enqueue()
    handle.result(timeout=5)
    job = app.get(handle.id)
    assert (job.log_count, job.logs_dropped) == (10, 15)
    assert [line.message for line in app.logs(handle.id)] == [f"line {i}" for i in range(10)]


def test_graceful_stop_finishes_short_jobs_and_requeues_long_ones(app: App) -> None:
    long_started = threading.Event()

    @app.job
    async def short() -> str:
        await asyncio.sleep(0.2)
        return "done"

    @app.job
    async def long() -> str:
        long_started.set()
        await asyncio.sleep(60)
        return "never"

    worker = app.start_worker(fast_settings(shutdown_grace=0.6))
    quick = short.enqueue()
    slow = long.enqueue()
    assert long_started.wait(5)
    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < 0.6 + 2
    assert quick.result(timeout=1) == "done"
    job = app.get(slow.id)
    assert (job.state, job.attempt, job.worker_id) == (JobState.PENDING, 0, None)
    app.start_worker(fast_settings())
    assert app.get(slow.id).state in (JobState.PENDING, JobState.RUNNING)


def test_finished_jobs_are_pruned_after_their_retention(app: App) -> None:
    @app.job(retention=0.2)
    def brief() -> int:
        return 1

    @app.job
    def kept() -> int:
        return 2

    app.start_worker(fast_settings(prune_interval=0.1))
    gone = brief.enqueue()
    stays = kept.enqueue()
    gone.result(timeout=5)
    stays.result(timeout=5)
    wait_until(lambda: not app.list(name="brief"), timeout=5)
    with pytest.raises(JobNotFound):
        app.get(gone.id)
    assert app.get(stays.id).state is JobState.COMPLETED


def test_retry_runs_a_failed_job_again(app: App) -> None:
    fail = threading.Event()
    fail.set()

    @app.job
    def sometimes() -> str:
        if fail.is_set():
            raise RuntimeError("down")
        return "up"

    handle = sometimes.enqueue()
    drain(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=0)
    fail.clear()
    assert app.retry(handle.id).state is JobState.PENDING
    drain(app)
    assert handle.result(timeout=0) == "up"
    assert app.get(handle.id).attempt == 2
    with pytest.raises(InvalidStateError, match="only failed or cancelled"):
        app.retry(handle.id)


def test_delete_cancels_and_removes_the_job(app: App) -> None:
    started = threading.Event()

    @app.job
    async def endless() -> None:
        started.set()
        await asyncio.sleep(60)

    app.start_worker(fast_settings())
    handle = endless.enqueue()
    assert started.wait(5)
    app.delete(handle.id)
    with pytest.raises(JobNotFound):
        app.get(handle.id)
    with pytest.raises(JobNotFound):
        app.delete(handle.id)
    wait_until(lambda: app.stats().counts == {}, timeout=5)


def test_a_lost_attempt_that_ends_late_does_not_hide_the_next_attempt(
    app: App, make_app: Callable[[], App]
) -> None:
    """Attempt 1 loses its lease but keeps running; attempt 2 starts on the same worker.

    When attempt 1 finally returns, the worker must still watch attempt 2 (here: a cancel
    still reaches it), instead of forgetting the job because its id finished once.
    """
    started = {1: threading.Event(), 2: threading.Event()}
    release_first = threading.Event()

    @app.job(retries=2)
    def stubborn(ctx: JobContext) -> int:
        started[ctx.attempt].set()
        if ctx.attempt == 1:
            release_first.wait(10)  # deaf to losing its lease
            return 1
        deadline = time.monotonic() + 10
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        return 2

    running = app.start_worker(fast_settings(sweeper=False, concurrency=2))
    handle = stubborn.enqueue()
    assert started[1].wait(5)
    first = running.worker.executions[handle.id]
    other = make_app()  # plays the sweeper of another worker: attempt 1 is taken away
    other.runtime.call(_sweep_everything(other))
    assert started[2].wait(5), "the worker claims the job's next attempt"
    release_first.set()

    async def first_attempt_ended() -> bool:
        return first.ended().done()

    wait_until(lambda: app.runtime.call(first_attempt_ended()), timeout=5)
    assert first.lease.attempt == 1
    assert handle.id in running.worker.executions
    app.cancel(handle.id)
    with pytest.raises(JobCancelled):
        handle.result(timeout=5)


async def _sweep_everything(app: App) -> None:
    await (await app.backend()).sweep(0.0)
