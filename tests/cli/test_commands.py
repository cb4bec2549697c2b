"""The database commands, run in this process against an in-process worker."""

from __future__ import annotations

import json
from pathlib import Path

from tests.waiting import wait_until
from underway import App, JobState

from .commands import invoke

APP = "tests.cli.sample_jobs:app"


def enqueue(database: str, name: str, args: dict[str, object], *options: str) -> str:
    result = invoke(
        "enqueue", "--app", APP, name, "--args", json.dumps(args), "--database", database, *options
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_enqueue_prints_the_id_of_the_stored_job(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 2, "b": 3}, "--priority", "5", "--queue", "urgent")

    job = app.get(job_id)
    assert (job.name, job.args, job.priority, job.queue) == ("add", {"a": 2, "b": 3}, 5, "urgent")
    assert job.state is JobState.PENDING


def test_enqueue_with_delay_schedules_the_job(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 1, "b": 1}, "--delay", "60")

    assert app.get(job_id).state is JobState.SCHEDULED


def test_status_wait_exits_0_and_prints_the_result_when_the_job_completes(
    worker: App, database: str
) -> None:
    job_id = enqueue(database, "add", {"a": 2, "b": 40})

    result = invoke("status", job_id, "--wait", "--timeout", "20", "--database", database)

    assert result.exit_code == 0, result.output
    assert "completed: 42" in result.stdout


def test_status_wait_exits_1_with_the_error_when_the_job_fails(worker: App, database: str) -> None:
    job_id = enqueue(database, "fail", {"message": "boom"})

    result = invoke("status", job_id, "--wait", "--timeout", "20", "--database", database)

    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: job {job_id} failed: RuntimeError: boom"


def test_status_wait_exits_3_when_the_job_is_cancelled(worker: App, database: str) -> None:
    job_id = enqueue(database, "slow", {"seconds": 60})
    wait_until(lambda: worker.get(job_id).state is JobState.RUNNING)
    assert invoke("cancel", job_id, "--database", database).exit_code == 0

    result = invoke("status", job_id, "--wait", "--timeout", "20", "--database", database)

    assert result.exit_code == 3
    assert "cancelled" in result.stderr


def test_status_wait_shows_progress_and_log_lines(worker: App, database: str) -> None:
    job_id = enqueue(database, "slow", {"seconds": 0.5})

    result = invoke("status", job_id, "--wait", "--timeout", "20", "--database", database)

    assert result.exit_code == 0, result.output
    assert "step 20 done" in result.stdout
    assert "100%" in result.stdout


def test_status_wait_gives_up_after_the_timeout(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 1, "b": 1})

    result = invoke("status", job_id, "--wait", "--timeout", "0.3", "--database", database)

    assert result.exit_code == 1
    assert "still pending" in result.stderr


def test_status_shows_the_details_and_log_of_a_job(worker: App, database: str) -> None:
    job_id = enqueue(database, "slow", {"seconds": 0.2})
    worker.handle(job_id).result(timeout=20)

    result = invoke("status", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    for expected in (job_id, "slow", "completed", '"slept"', '{"seconds": 0.2}', "step 20 done"):
        assert expected in result.stdout


def test_list_shows_jobs_newest_first_and_filters_them(app: App, database: str) -> None:
    first = enqueue(database, "add", {"a": 1, "b": 1})
    second = enqueue(database, "fail", {"message": "x"})
    app.cancel(second)

    everything = invoke("list", "--database", database)
    cancelled = invoke("list", "--state", "cancelled,failed", "--database", database)
    by_name = invoke("list", "--name", "add", "--database", database)
    limited = invoke("list", "--limit", "1", "--database", database)

    assert everything.exit_code == 0, everything.output
    assert everything.stdout.index(second) < everything.stdout.index(first)
    assert second in cancelled.stdout
    assert first not in cancelled.stdout
    assert first in by_name.stdout
    assert second not in by_name.stdout
    assert second in limited.stdout
    assert "1 of 2 jobs" in limited.stdout


def test_cancel_stops_a_pending_job_at_once(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 1, "b": 1})

    result = invoke("cancel", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    assert app.get(job_id).state is JobState.CANCELLED


def test_cancel_asks_a_running_job_to_stop(worker: App, database: str) -> None:
    job_id = enqueue(database, "slow", {"seconds": 60})
    wait_until(lambda: worker.get(job_id).state is JobState.RUNNING)

    result = invoke("cancel", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    assert "cancel requested" in result.stdout
    wait_until(lambda: worker.get(job_id).state is JobState.CANCELLED)


def test_retry_runs_a_failed_job_again(worker: App, database: str) -> None:
    job_id = enqueue(database, "fail", {"message": "boom"})
    wait_until(lambda: worker.get(job_id).state is JobState.FAILED)

    result = invoke("retry", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    wait_until(lambda: worker.get(job_id).attempt == 2 and worker.get(job_id).state.is_finished)
    assert worker.get(job_id).state is JobState.FAILED


def test_list_accepts_an_app_in_place_of_a_bare_database(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 1, "b": 1})

    result = invoke("list", "--app", APP, "--database", database)

    assert result.exit_code == 0, result.output
    assert job_id in result.stdout


def test_database_commands_take_the_url_from_the_environment(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 1, "b": 1})

    result = invoke("status", job_id, database_env=database)

    assert result.exit_code == 0, result.output
    assert job_id in result.stdout


def test_migrate_creates_the_schema_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"

    first = invoke("migrate", "--database", url)
    second = invoke("migrate", "--database", url)

    assert first.exit_code == 0
    assert (
        "applied 0001_initial, 0002_recurring, 0003_claim_indexes, 0004_lean_write_indexes"
        in first.stdout
    )
    assert second.exit_code == 0
    assert "up to date" in second.stdout
