"""Snoozes and retry rules as a job meets them: `raise Snooze`/`ctx.snooze` spend no attempt;
`retry_on`, `discard_on` and `raise Retry(after=...)` decide what an error leads to, and the
recorded error names the rule."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta

import pytest

from tests.conftest import fast_settings
from tests.logs import logged
from tests.waiting import wait_until
from tests.worker.conftest import START
from underway import App, Backoff, Job, JobContext, JobState, JobTimeout, Retry, Snooze
from underway.testing import Clock, drain

#: Retries due at once.
AT_ONCE = Backoff(base=0, factor=1, maximum=0, jitter=0)
#: A backoff no test waits for: a retry due sooner was timed by a rule.
AN_HOUR = Backoff(base=3600, factor=1, maximum=3600, jitter=0)


def finished(app: App, job_id: str) -> Job:
    """The job once it has ended, as stored."""
    return wait_until(lambda: (job := app.get(job_id)).state.is_finished and job)


def test_ctx_snooze_puts_the_job_back_for_its_delay_then_it_completes(
    clocked_app: App, clock: Clock
) -> None:
    app = clocked_app
    calls: list[datetime] = []

    @app.job
    def poll(ctx: JobContext) -> str:
        calls.append(clock.moment)
        if len(calls) == 1:
            ctx.snooze(30)
        return "ready"

    handle = poll.enqueue()
    drain(app)
    waiting = app.get(handle.id)
    assert waiting.state is JobState.SCHEDULED
    assert waiting.run_at == START + timedelta(seconds=30)
    assert (waiting.attempt, waiting.max_attempts, waiting.snoozes) == (1, 2, 1)
    assert (waiting.error, waiting.errors) == (None, ())
    clock.advance(29)
    assert drain(app) == []
    clock.advance(1)
    drain(app)
    assert handle.result(timeout=1) == "ready"
    assert calls == [START, START + timedelta(seconds=30)]


def test_three_snoozes_spend_no_attempt(app: App) -> None:
    runs: list[tuple[int, int]] = []

    @app.job(retries=1)
    async def wait_for_export(ctx: JobContext) -> int:
        runs.append((ctx.attempt, ctx.max_attempts))
        if len(runs) <= 3:
            raise Snooze(0)
        return len(runs)

    handle = wait_for_export.enqueue()
    drain(app)
    assert handle.result(timeout=0) == 4
    assert runs == [(1, 2), (2, 3), (3, 4), (4, 5)]
    job = app.get(handle.id)
    assert (job.state, job.attempt, job.max_attempts, job.snoozes) == (
        JobState.COMPLETED,
        4,
        5,
        3,
    )
    assert job.errors == ()


def test_discard_on_fails_the_job_at_once_with_attempts_left(app: App) -> None:
    @app.job(retries=3, backoff=AT_ONCE, discard_on=(ValueError,))
    def parse(text: str) -> None:
        raise UnicodeError(f"cannot read {text!r}")  # a ValueError

    handle = parse.enqueue("été")
    drain(app)
    job = app.get(handle.id)
    assert (job.state, job.attempt) == (JobState.FAILED, 1)
    assert job.error is not None
    assert (job.error.type, job.error.rule) == ("UnicodeError", "discard_on: ValueError")
    assert [e.rule for e in job.errors] == ["discard_on: ValueError"]


def test_only_exceptions_in_retry_on_are_retried(app: App) -> None:
    raised = [TimeoutError("slow upstream"), KeyError("missing")]

    @app.job(retries=3, backoff=AT_ONCE, retry_on=(TimeoutError, ConnectionError))
    def fetch() -> None:
        raise raised.pop(0)

    handle = fetch.enqueue()
    drain(app)
    job = app.get(handle.id)
    assert (job.state, job.attempt) == (JobState.FAILED, 2)
    assert [(e.type, e.rule) for e in job.errors] == [
        ("TimeoutError", "retry_on: TimeoutError"),
        ("KeyError", "not in retry_on"),
    ]


def test_a_job_timeout_meets_retry_on_and_discard_on(app: App) -> None:
    @app.job(timeout=0.05, retries=1, backoff=AT_ONCE, retry_on=TimeoutError)
    async def slow() -> None:
        await asyncio.sleep(30)

    @app.job(timeout=0.05, retries=1, backoff=AT_ONCE, discard_on=JobTimeout)
    async def slower() -> None:
        await asyncio.sleep(30)

    first_id, second_id = slow.enqueue().id, slower.enqueue().id
    drain(app)
    first, second = app.get(first_id), app.get(second_id)
    assert (first.state, first.attempt) == (JobState.FAILED, 2)
    assert [(e.type, e.rule) for e in first.errors] == [
        ("JobTimeout", "retry_on: TimeoutError"),
        ("JobTimeout", "retry_on: TimeoutError"),
    ]
    assert (second.state, second.attempt) == (JobState.FAILED, 1)
    assert [(e.type, e.rule) for e in second.errors] == [("JobTimeout", "discard_on: JobTimeout")]


def test_retry_after_sets_the_delay_instead_of_the_backoff(app: App) -> None:
    @app.job(retries=2, backoff=AN_HOUR)
    def sync_account() -> None:
        raise Retry(after=30, reason="rate limited")

    handle = sync_account.enqueue()
    drain(app)
    job = app.get(handle.id)
    assert (job.state, job.attempt, job.max_attempts) == (JobState.SCHEDULED, 1, 3)
    assert job.started_at is not None
    assert timedelta(seconds=30) <= job.run_at - job.started_at < timedelta(seconds=40)
    assert job.error is not None
    assert (job.error.type, job.error.message, job.error.rule) == (
        "Retry",
        "rate limited",
        "Retry(after=30)",
    )


def test_retry_after_times_the_next_attempt_on_the_clock(clocked_app: App, clock: Clock) -> None:
    app = clocked_app

    @app.job(retries=1, backoff=AN_HOUR)
    def sync_account(ctx: JobContext) -> int:
        if ctx.attempt == 1:
            raise Retry(after=30)
        return ctx.attempt

    handle = sync_account.enqueue()
    drain(app)
    assert app.get(handle.id).run_at == START + timedelta(seconds=30)
    clock.advance(30)
    drain(app)
    assert handle.result(timeout=1) == 2


def test_retry_with_no_attempts_left_fails(app: App) -> None:
    @app.job(backoff=AT_ONCE)
    def once() -> None:
        raise Retry()

    handle = once.enqueue()
    drain(app)
    job = app.get(handle.id)
    assert (job.state, job.attempt) == (JobState.FAILED, 1)
    assert job.error is not None
    assert job.error.rule == "Retry()"


def test_a_snooze_in_a_job_cancelled_meanwhile_ends_cancelled(app: App) -> None:
    started = threading.Event()

    @app.job(retries=1)
    def waits(ctx: JobContext) -> None:
        started.set()
        ctx.wait_cancelled(timeout=30)
        ctx.snooze(0)

    app.start_worker(fast_settings())
    handle = waits.enqueue()
    assert started.wait(10)
    app.cancel(handle.id)
    job = finished(app, handle.id)
    assert (job.state, job.max_attempts, job.snoozes) == (JobState.CANCELLED, 2, 0)


def test_the_worker_logs_a_snooze_and_the_rule_of_a_failure(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="underway")

    @app.job
    def later(ctx: JobContext) -> None:
        if ctx.attempt == 1:
            ctx.snooze(30)

    @app.job(retries=2, discard_on=ValueError)
    def picky() -> None:
        raise ValueError("bad month")

    snoozed, failed = later.enqueue(), picky.enqueue()
    drain(app)
    info = logged(caplog, "underway.worker", logging.INFO)
    assert f"job later {snoozed.id} attempt 1 of 1 snoozed for 30 s" in info
    errors = logged(caplog, "underway.worker", logging.ERROR)
    assert errors == [
        f"job picky {failed.id} attempt 1 of 3 failed, not retried (discard_on: ValueError): "
        "ValueError: bad month"
    ]
