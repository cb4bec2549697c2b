"""Enqueue, run, results, retries, timeouts and hooks: jobs run by a drain where only their
running matters, by an in-process worker where the worker is what is tested."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from tests.worker.conftest import START
from underway import (
    App,
    Backoff,
    ConfigurationError,
    Job,
    JobContext,
    JobFailed,
    JobState,
    UnknownJobError,
    ValidationError,
    WaitTimeout,
)
from underway.testing import Clock, drain


def test_a_bad_call_is_a_clear_error_and_stores_nothing(app: App) -> None:
    @app.job
    def export(month: str, tenant: int) -> None: ...

    with pytest.raises(ValidationError, match="tenant"):
        export.enqueue(month="2026-10", tenant="seven")
    with pytest.raises(ValidationError, match="month"):
        app.enqueue("export", {"tenant": 1})
    with pytest.raises(UnknownJobError, match="'nope'"):
        app.enqueue("nope")
    assert app.list() == []


def test_a_bad_call_in_a_batch_names_its_index_and_stores_none_of_the_batch(app: App) -> None:
    @app.job
    def export(month: str, tenant: int) -> None: ...

    calls = [{"month": "2026-10", "tenant": 1}, {"month": "2026-11", "tenant": "seven"}]
    with pytest.raises(ValidationError, match=r"1\.tenant: .*valid integer") as caught:
        export.enqueue_many(calls)
    assert caught.value.errors[0]["loc"] == (1, "tenant")
    assert app.list() == []
    handles = export.enqueue_many([{"month": "2026-10", "tenant": "7"}])
    assert [h.job.args for h in handles] == [{"month": "2026-10", "tenant": 7}]


def test_async_job_result_comes_back_typed(app: App) -> None:
    @app.job
    async def export_report(ctx: JobContext, month: str, tenant: int) -> dict[str, Any]:
        ctx.progress(10, "reading rows")
        return {"url": f"/{month}/{tenant}", "attempt": ctx.attempt}

    handle = export_report.enqueue(month="2026-10", tenant=7)
    drain(app)
    assert handle.result(timeout=0) == {"url": "/2026-10/7", "attempt": 1}
    job = app.get(handle.id)
    assert job.state is JobState.COMPLETED
    assert job.progress == 100
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.worker_id is not None


def test_sync_job_by_name_and_positional_arguments(app: App) -> None:
    @app.job
    def add(a: int, b: int = 2) -> int:
        return a + b

    by_name = app.enqueue("add", {"a": 40})
    positional = add.enqueue(1, b=1)
    assert positional.state is JobState.PENDING
    drain(app)
    assert (by_name.result(timeout=0), positional.result(timeout=0)) == (42, 2)


async def test_async_callers_await_the_result(app: App) -> None:
    @app.job
    async def double(n: int) -> int:
        return n * 2

    await asyncio.to_thread(app.start_worker, fast_settings())
    handle = await double.enqueue_async(n=21)
    assert await handle.wait(timeout=10) == 42
    assert await double.run_async(n=4) == 8


def test_failures_are_retried_with_backoff_then_succeed(clocked_app: App, clock: Clock) -> None:
    app = clocked_app
    calls: list[datetime] = []

    @app.job(retries=3, backoff=Backoff(base=20, factor=2, jitter=0))
    def flaky() -> str:
        calls.append(clock.moment)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return "ok"

    handle = flaky.enqueue()
    assert [job.state for job in drain(app)] == [JobState.SCHEDULED]
    clock.advance(19)
    assert drain(app) == [], "not retried before its backoff"
    clock.advance(1)
    drain(app)
    clock.advance(39)
    assert drain(app) == [], "the second backoff is twice the first"
    clock.advance(1)
    drain(app)
    assert handle.result(timeout=0) == "ok"
    assert calls == [START, START + timedelta(seconds=20), START + timedelta(seconds=60)]
    job = app.get(handle.id)
    assert (job.state, job.attempt, job.error) == (JobState.COMPLETED, 3, None)
    assert [e.message for e in job.errors] == ["try 1", "try 2"]


def test_exhausted_retries_fail_with_the_error_and_traceback(app: App) -> None:
    @app.job(retries=1, backoff=Backoff(base=0, factor=1, maximum=0, jitter=0))
    def broken(x: int) -> None:
        raise ValueError(f"bad x={x}")

    handle = broken.enqueue(x=3)
    drain(app)
    with pytest.raises(JobFailed, match="ValueError: bad x=3") as caught:
        handle.result(timeout=0)
    assert "raise ValueError" in caught.value.traceback
    job = app.get(handle.id)
    assert (job.state, job.attempt, len(job.errors)) == (JobState.FAILED, 2, 2)


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_timeout_counts_as_a_failed_attempt_with_a_clear_error(app: App, kind: str) -> None:
    release = threading.Event()

    if kind == "async":

        @app.job(name="slow", timeout=0.2)
        async def slow_async() -> None:
            await asyncio.sleep(30)

    else:

        @app.job(name="slow", timeout=0.2)
        def slow_sync(ctx: JobContext) -> None:
            while not ctx.cancelled:
                time.sleep(0.01)
            release.set()

    handle = app.enqueue("slow")
    drain(app)
    with pytest.raises(JobFailed, match=r"JobTimeout: job 'slow' exceeded its timeout of 0\.2 s"):
        handle.result(timeout=0)
    if kind == "sync":
        assert release.wait(5), "the sync job was told to stop through ctx.cancelled"


def test_result_wait_times_out_without_changing_the_job(app: App) -> None:
    @app.job
    def never_runs() -> None: ...

    handle = never_runs.enqueue()
    with pytest.raises(WaitTimeout, match="still pending"):
        handle.result(timeout=0.1)
    assert handle.state is JobState.PENDING


def test_delayed_jobs_wait_for_their_time(clocked_app: App, clock: Clock) -> None:
    app = clocked_app

    @app.job
    def later() -> datetime:
        return clock.moment

    delayed = later.options(delay=30).enqueue()
    at = later.options(run_at=START + timedelta(minutes=5)).enqueue()
    assert (delayed.job.state, at.job.state) == (JobState.SCHEDULED, JobState.SCHEDULED)
    clock.advance(29)
    assert drain(app) == []
    clock.advance(1)
    assert [job.id for job in drain(app)] == [delayed.id]
    assert delayed.result(timeout=0) == START + timedelta(seconds=30)
    clock.set(START + timedelta(minutes=5) - timedelta(seconds=1))
    assert drain(app) == []
    clock.advance(1)
    assert [job.id for job in drain(app)] == [at.id]
    assert at.result(timeout=0) == START + timedelta(minutes=5)


def test_higher_priority_runs_first(app: App) -> None:
    order: list[str] = []

    @app.job
    def record(label: str) -> None:
        order.append(label)

    for label, priority in [("low", 0), ("high", 10), ("mid", 5)]:
        record.options(priority=priority).enqueue(label=label)
    drain(app, concurrency=1)
    assert order == ["high", "mid", "low"]


def test_queues_route_jobs_to_workers_that_serve_them(app: App) -> None:
    @app.job(queue="reports")
    def report() -> str:
        return "done"

    handle = report.enqueue()
    assert drain(app, queues="default") == []
    assert handle.state is JobState.PENDING
    drain(app, queues="reports")
    assert handle.result(timeout=0) == "done"


def test_hooks_see_the_finished_job(app: App) -> None:
    seen: list[tuple[str, str]] = []

    def succeeded(job: Job) -> None:
        seen.append(("success", job.name))

    async def failed(job: Job) -> None:
        seen.append(("failure", job.name))

    @app.job(on_success=succeeded)
    def good() -> int:
        return 1

    @app.job(on_failure=failed)
    def bad() -> None:
        raise RuntimeError("no")

    @app.on_finished
    def finished(job: Job) -> None:
        seen.append((job.state.value, job.name))

    good.enqueue()
    bad.enqueue()
    drain(app)
    assert sorted(seen) == sorted(
        [("success", "good"), ("completed", "good"), ("failure", "bad"), ("failed", "bad")]
    )


def test_lifespan_runs_once_per_worker_and_scope_once_per_run(app: App) -> None:
    events: list[str] = []

    @app.lifespan
    async def resources(app: App) -> Any:
        events.append("pool open")
        yield {"pool": "P"}
        events.append("pool closed")

    @app.job_scope
    def session(ctx: JobContext) -> Any:
        events.append(f"session {ctx.args['n']}")
        try:
            yield f"S{ctx.args['n']}"
        finally:
            events.append(f"session {ctx.args['n']} closed")

    @app.job
    def use(ctx: JobContext, n: int) -> str:
        if n == 2:
            raise RuntimeError("fails, scope still closes")
        return f"{ctx.resources['pool']}/{ctx.scope}"

    worker = app.start_worker(fast_settings(concurrency=1))
    assert use.enqueue(n=1).result(timeout=10) == "P/S1"
    with pytest.raises(JobFailed):
        use.enqueue(n=2).result(timeout=10)
    worker.stop()
    assert events == [
        "pool open",
        "session 1",
        "session 1 closed",
        "session 2",
        "session 2 closed",
        "pool closed",
    ]


TENANT: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")


def test_each_async_job_runs_in_a_context_of_its_own(app: App) -> None:
    """Context variables set by one job, or by its scope, are not seen by the next job the
    worker runs, as if each job ran in a task of its own; a job sees its scope's."""

    @app.job_scope
    async def scoped(ctx: JobContext) -> AsyncIterator[None]:
        if ctx.args["tenant"] != "-":
            TENANT.set(f"scope:{ctx.args['tenant']}")
        yield

    @app.job
    async def tenant_seen(tenant: str, set_to: str | None = None) -> str:
        seen = TENANT.get()
        if set_to is not None:
            TENANT.set(set_to)
        await asyncio.sleep(0)  # carries on in a later step of the same run
        return f"{seen}>{TENANT.get()}"

    handles = [
        tenant_seen.enqueue(tenant="-", set_to="a"),
        tenant_seen.enqueue(tenant="-"),
        tenant_seen.enqueue(tenant="b"),
        tenant_seen.enqueue(tenant="-"),
    ]
    drain(app, concurrency=1)  # one slot: jobs run one after another
    assert [handle.result(timeout=0) for handle in handles] == [
        "none>a",
        "none>none",
        "scope:b>scope:b",
        "none>none",
    ]


def test_blocking_calls_inside_async_jobs_are_refused_clearly(app: App) -> None:
    @app.job
    async def nested() -> str:
        try:
            app.stats()
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    handle = nested.enqueue()
    drain(app)
    assert "use the *_async method" in handle.result(timeout=0)


def test_stats_count_running_jobs(app: App) -> None:
    release = threading.Event()

    @app.job
    def hold() -> None:
        release.wait(10)

    app.start_worker(fast_settings(concurrency=2))
    handles = [hold.enqueue() for _ in range(3)]
    wait_until(lambda: app.stats().counts.get("running") == 2)
    assert app.stats().counts.get("pending") == 1
    release.set()
    for handle in handles:
        handle.result(timeout=10)
    assert app.stats().counts == {"completed": 3}


def test_run_at_out_of_range_is_a_clear_error_and_stores_nothing(app: App) -> None:
    @app.job
    def later() -> None: ...

    far = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-23)))
    with pytest.raises(ConfigurationError, match="out of range"):
        later.options(run_at=far).enqueue()
    with pytest.raises(ConfigurationError, match="must be a datetime"):
        later.options(run_at="tomorrow").enqueue()
    assert app.list() == []
