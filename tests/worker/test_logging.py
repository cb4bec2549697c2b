"""A worker's log says where it runs and what became of attempts that did not complete."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.conftest import fast_settings
from tests.logs import logged
from tests.waiting import wait_until
from underway import App, JobCancelled, JobContext, JobFailed
from underway.backends import safe_url
from underway.job_options import Backoff
from underway.testing import Clock, drain

A_MINUTE = Backoff(base=60, factor=1.0, maximum=60, jitter=0.0)


def worker_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return logged(caplog, "underway.worker", level)


def test_a_failed_attempt_its_retry_and_the_final_failure_are_logged_with_the_job(
    clocked_app: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = clocked_app
    caplog.set_level(logging.INFO, logger="underway")

    @app.job(retries=1, backoff=A_MINUTE)
    def flaky() -> None:
        raise ConnectionError("upstream refused")

    handle = flaky.enqueue()
    drain(app)
    retried = [line for line in worker_lines(caplog, logging.WARNING) if handle.id in line]
    assert retried == [
        f"job flaky {handle.id} attempt 1 of 2 failed, retrying in 60 s: "
        "ConnectionError: upstream refused"
    ]
    assert worker_lines(caplog, logging.ERROR) == []
    clock.advance(60)
    drain(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=0)
    failed = [line for line in worker_lines(caplog, logging.ERROR) if handle.id in line]
    assert failed == [
        f"job flaky {handle.id} attempt 2 of 2 failed, no attempts left: "
        "ConnectionError: upstream refused"
    ]


def test_a_cancelled_attempt_is_logged_and_a_completed_one_only_at_debug(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="underway")
    started = threading.Event()

    @app.job
    def quick() -> int:
        return 1

    @app.job
    def polite(ctx: JobContext) -> None:
        started.set()
        while not ctx.cancelled:
            time.sleep(0.01)

    app.start_worker(fast_settings())
    done = quick.enqueue()
    assert done.result(timeout=10) == 1
    stopping = polite.enqueue()
    assert started.wait(5)
    app.cancel(stopping.id)
    with pytest.raises(JobCancelled):
        stopping.result(timeout=10)
    wait_until(lambda: any(stopping.id in line for line in worker_lines(caplog, logging.INFO)))
    assert f"job polite {stopping.id} attempt 1 of 1 cancelled by request" in (
        worker_lines(caplog, logging.INFO)
    )
    assert not [r for r in caplog.records if done.id in r.getMessage()]
    caplog.set_level(logging.DEBUG, logger="underway.worker")
    again = quick.enqueue()
    assert again.result(timeout=10) == 1
    wait_until(lambda: any(again.id in line for line in worker_lines(caplog, logging.DEBUG)))
    assert f"job quick {again.id} attempt 1 of 1 completed" in logged(
        caplog, "underway.worker", logging.DEBUG
    )


def test_the_start_line_names_the_database_queues_and_concurrency(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="underway")

    app.start_worker(fast_settings(concurrency=3))
    wait_until(lambda: any("started on" in line for line in worker_lines(caplog, logging.INFO)))
    started = next(line for line in worker_lines(caplog, logging.INFO) if "started on" in line)
    expected = f"started on queues default, concurrency 3, database {safe_url(app.database_url)}"
    assert started.endswith(expected)


def test_a_logged_database_url_hides_its_password() -> None:
    assert safe_url("postgresql://u:s3cret@db:5432/jobs?schema=q") == (
        "postgresql://u:***@db:5432/jobs?schema=q"
    )
    assert safe_url("postgresql://u@db/jobs") == "postgresql://u@db/jobs"
    assert safe_url("sqlite:///jobs.db") == "sqlite:///jobs.db"


def test_attempt_lines_carry_the_job_as_fields_for_json_logs(
    clocked_app: App, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    app = clocked_app
    caplog.set_level(logging.INFO, logger="underway")
    caplog.set_level(logging.DEBUG, logger="underway.worker")  # a drain's start line

    @app.job(retries=1, backoff=A_MINUTE)
    def flaky() -> None:
        raise ConnectionError("upstream refused")

    handle = flaky.enqueue()
    drain(app)
    clock.advance(60)
    drain(app)
    retry, failure = [r for r in caplog.records if getattr(r, "job_id", None) == handle.id]
    assert (retry.job_name, retry.attempt, retry.max_attempts, retry.outcome) == (
        "flaky",
        1,
        2,
        "retry",
    )
    assert retry.retry_delay_s == pytest.approx(60)
    assert (failure.outcome, failure.error_type, failure.error_message) == (
        "failed",
        "ConnectionError",
        "upstream refused",
    )
    # Each drain starts a worker of its own, named on the lines of the attempts it ran.
    started = [r for r in caplog.records if "started on queues" in r.getMessage()]
    assert [r.queues for r in started] == [["default"], ["default"]]
    assert [r.worker_id for r in started] == [retry.worker_id, failure.worker_id]
