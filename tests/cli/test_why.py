"""`underway why ID`: one line per hold on a job, --json for scripts, an error for no job."""

from __future__ import annotations

import json

from underway import App

from .commands import invoke


def test_why_prints_one_line_per_hold_most_fundamental_first(app: App, database: str) -> None:
    job_id = app.enqueue("add", {"a": 1, "b": 2}, delay=3600).id

    result = invoke("why", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("scheduled: due at ")
    assert "(in 59m " in lines[0]
    assert lines[1] == (
        "no live worker serves queue default (no worker has heartbeated in the last 60s)"
    )
    assert len(lines) == 2


def test_why_says_what_a_job_that_is_not_waiting_does(worker: App, database: str) -> None:
    handle = worker.enqueue("add", {"a": 1, "b": 2})
    handle.result(timeout=20)

    result = invoke("why", handle.id, "--database", database)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("completed at ")
    assert result.stdout.strip().endswith(", not waiting")


def test_why_prints_queue_names_as_given_never_as_markup(app: App, database: str) -> None:
    job_id = app.enqueue("add", {"a": 1, "b": 2}, queue="[bold]urgent[/bold]").id

    result = invoke("why", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    assert "no live worker serves queue [bold]urgent[/bold] (" in result.stdout


def test_why_json_is_the_whole_explanation(app: App, database: str) -> None:
    job_id = app.enqueue("add", {"a": 1, "b": 2}, delay=60).id

    result = invoke("why", job_id, "--database", database, "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["job_id"], document["state"]) == (job_id, "scheduled")
    assert [reason["kind"] for reason in document["reasons"]] == ["scheduled", "no_worker"]
    scheduled = document["reasons"][0]
    assert (
        scheduled["until"] == scheduled["details"]["run_at"] == app.get(job_id).run_at.isoformat()
    )
    assert document["checked_at"]


def test_why_of_an_unknown_job_is_an_error(database: str) -> None:
    result = invoke("why", "no-such-id", "--database", database)

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: job no-such-id not found (see `underway list`)"
