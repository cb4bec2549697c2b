"""`underway recurring ...` against a real SQLite file."""

from __future__ import annotations

import json

from underway import App, JobState

from .commands import invoke

APP = "tests.cli.sample_jobs:app"


def add(database: str, *extra: str) -> str:
    result = invoke(
        "recurring",
        "add",
        "--app",
        APP,
        "sums",
        "0 3 * * *",
        "add",
        "--args",
        json.dumps({"a": 1, "b": 2}),
        "--timezone",
        "Europe/Berlin",
        "--database",
        database,
        *extra,
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_add_list_toggle_trigger_remove(app: App, database: str) -> None:
    recurring_id = add(database)
    listed = invoke("recurring", "list", "--database", database)
    assert listed.exit_code == 0, listed.output
    assert "sums" in listed.stdout
    assert "At 03:00" in listed.stdout

    toggled = invoke("recurring", "toggle", recurring_id, "--database", database)
    assert toggled.stdout.strip() == "sums is disabled"
    assert not app.get_recurring(recurring_id).enabled

    triggered = invoke("recurring", "trigger", recurring_id, "--app", APP, "--database", database)
    assert triggered.exit_code == 0, triggered.output
    job = app.get(triggered.stdout.strip())
    assert (job.name, job.args, job.state) == ("add", {"a": 1, "b": 2}, JobState.PENDING)

    assert invoke("recurring", "remove", recurring_id, "--database", database).exit_code == 0
    assert app.list_recurring() == []


def test_bad_cron_and_unknown_ids_are_one_line_errors(app: App, database: str) -> None:
    bad = invoke(
        "recurring",
        "add",
        "--app",
        APP,
        "x",
        "61 * * * *",
        "add",
        "--args",
        '{"a": 1, "b": 2}',
        "--database",
        database,
    )
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "error: invalid cron expression '61 * * * *': Bad minute"
    missing = invoke("recurring", "toggle", "nope", "--database", database)
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        "error: recurring job nope not found (see `underway recurring list`)"
    )
    assert app.list_recurring() == []
