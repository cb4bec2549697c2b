"""`underway worker` as a real process: runs jobs, and shuts down cleanly on signals."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.waiting import wait_until
from underway import App, JobState
from underway.worker.collector import YOUNG_THRESHOLD

from .commands import run

StartWorker = Callable[..., tuple[subprocess.Popen[Any], Path]]
#: Leeway on top of the grace period for the interpreter to start and exit on a busy machine.
EXIT_LEEWAY_S = 8.0


def enqueue(database: str, name: str, args: str) -> str:
    result = run("enqueue", "-a", "sample_jobs:app", name, "--args", args, "--database", database)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def running(app: App, job_id: str) -> bool:
    return app.get(job_id).state is JobState.RUNNING


def test_worker_runs_jobs_enqueued_from_the_command_line(
    start_worker: StartWorker, app: App, database: str
) -> None:
    worker, log = start_worker("--queues", "default,other", "-q", "third")
    job_id = enqueue(database, "add", '{"a": 2, "b": 3}')

    waited = run("status", job_id, "--wait", "--timeout", "30", "--database", database)

    assert waited.returncode == 0, waited.stderr
    assert "completed: 5" in waited.stdout
    assert app.get(job_id).result == 5
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=EXIT_LEEWAY_S) == 0
    assert "started on queues default, other, third" in log.read_text()


def test_the_worker_process_sets_its_loaded_code_apart_from_the_garbage_collector(
    start_worker: StartWorker, app: App, database: str
) -> None:
    worker, _ = start_worker()
    job_id = enqueue(database, "collector", "{}")

    threshold, frozen = app.handle(job_id).result(timeout=30)

    assert threshold == YOUNG_THRESHOLD
    assert frozen > 10_000  # modules, the app and its jobs, loaded before the worker started
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=EXIT_LEEWAY_S) == 0


def test_sigterm_hands_a_long_job_back_without_counting_the_attempt(
    start_worker: StartWorker, app: App, database: str
) -> None:
    job_id = app.enqueue("slow", {"seconds": 60}).id
    worker, log = start_worker("--shutdown-grace", "0.5")
    wait_until(lambda: running(app, job_id), timeout=20)

    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=0.5 + EXIT_LEEWAY_S) == 0
    assert time.monotonic() - sent < 0.5 + EXIT_LEEWAY_S
    job = app.get(job_id)
    assert (job.state, job.attempt, job.worker_id) == (JobState.PENDING, 0, None)
    assert "SIGTERM" in log.read_text()


def test_sigint_lets_a_running_job_finish_within_the_grace_period(
    start_worker: StartWorker, app: App, database: str
) -> None:
    job_id = app.enqueue("slow", {"seconds": 1.5}).id
    worker, _ = start_worker("--shutdown-grace", "30")
    wait_until(lambda: running(app, job_id), timeout=20)

    worker.send_signal(signal.SIGINT)

    assert worker.wait(timeout=1.5 + EXIT_LEEWAY_S) == 0
    job = app.get(job_id)
    assert (job.state, job.result, job.attempt) == (JobState.COMPLETED, "slept", 1)


def test_a_sync_job_that_ignores_the_signal_is_handed_back_and_the_worker_exits(
    start_worker: StartWorker, app: App
) -> None:
    job_id = app.enqueue("stubborn", {"seconds": 120}).id
    worker, log = start_worker("--shutdown-grace", "0.2")
    wait_until(lambda: running(app, job_id), timeout=20)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=0.2 + EXIT_LEEWAY_S) == 0
    job = app.get(job_id)
    assert (job.state, job.attempt) == (JobState.PENDING, 0)
    assert "did not return" in log.read_text()


def test_a_second_signal_exits_at_once(start_worker: StartWorker, app: App) -> None:
    job_id = app.enqueue("slow", {"seconds": 60}).id
    worker, log = start_worker("--shutdown-grace", "60")
    wait_until(lambda: running(app, job_id), timeout=20)
    worker.send_signal(signal.SIGTERM)
    wait_until(lambda: "send again to exit now" in log.read_text())

    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=EXIT_LEEWAY_S) == 128 + signal.SIGTERM
    assert time.monotonic() - sent < EXIT_LEEWAY_S
    assert "exiting now" in log.read_text()


def test_worker_reports_a_bad_option_in_one_line(database: str) -> None:
    result = run("worker", "--app", "sample_jobs:app", "--database", database, "--concurrency", "0")

    assert result.returncode == 1
    assert result.stderr.strip() == "error: concurrency must be at least 1"
