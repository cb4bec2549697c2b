"""What scripts rely on: --json documents, JSON errors, --version, full ids in pipes, names
for recurring jobs, one-line usage errors and completion."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from importlib.metadata import version

import pytest

from underway import App, JobState

from .commands import invoke, subprocess_env

APP = "tests.cli.sample_jobs:app"


def enqueue(database: str, name: str, args: dict[str, object], *options: str) -> str:
    result = invoke(
        "enqueue", "--app", APP, name, "--args", json.dumps(args), "--database", database, *options
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def as_json(*args: str) -> object:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_json_is_one_document_with_every_job(app: App, database: str) -> None:
    first = enqueue(database, "add", {"a": 1, "b": 2})
    second = enqueue(database, "fail", {"message": "x"}, "--queue", "other")

    document = as_json("list", "--database", database)

    assert isinstance(document, dict)
    assert document["total"] == 2
    assert [job["id"] for job in document["jobs"]] == [second, first]
    assert document["jobs"][1]["args"] == {"a": 1, "b": 2}
    assert document["jobs"][1]["state"] == "pending"


def test_status_enqueue_cancel_retry_and_delete_print_json(app: App, database: str) -> None:
    enqueued = as_json(
        "enqueue", "--app", APP, "add", "--args", '{"a": 1, "b": 2}', "--database", database
    )
    assert isinstance(enqueued, dict)
    job_id = enqueued["id"]
    assert (enqueued["name"], enqueued["state"], enqueued["joined"]) == ("add", "pending", False)

    status = as_json("status", job_id, "--database", database)
    cancelled = as_json("cancel", job_id, "--database", database)
    retried = as_json("retry", job_id, "--database", database)
    deleted = as_json("delete", job_id, "--database", database)

    assert isinstance(status, dict)
    assert (status["id"], status["args"], status["logs"]) == (job_id, {"a": 1, "b": 2}, [])
    assert isinstance(cancelled, dict)
    assert isinstance(retried, dict)
    assert (cancelled["id"], cancelled["state"]) == (job_id, "cancelled")
    assert (retried["id"], retried["state"]) == (job_id, "pending")
    assert deleted == {"deleted": job_id}


def test_status_wait_json_prints_the_finished_job(worker: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 2, "b": 40})

    result = invoke("status", job_id, "--wait", "--timeout", "20", "--json", "--database", database)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["state"], document["result"]) == ("completed", 42)


def test_recurring_list_json(app: App, database: str) -> None:
    app.add_recurring("sums", "0 3 * * *", "add", {"a": 1, "b": 2}, timezone="Europe/Berlin")

    document = as_json("recurring", "list", "--database", database)

    assert isinstance(document, dict)
    [row] = document["recurring"]
    assert (row["name"], row["cron"], row["timezone"]) == ("sums", "0 3 * * *", "Europe/Berlin")


@pytest.mark.parametrize(
    "args",
    [
        ["status", "no-such-id"],
        ["list", "--state", "finished"],
        ["enqueue", "--app", APP, "add", "--args", "{bad"],
    ],
)
def test_errors_with_json_are_one_json_document_on_stderr(database: str, args: list[str]) -> None:
    result = invoke(*args, "--json", "--database", database)

    assert result.exit_code == 1
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["message"]
    assert error["type"]


def test_version_prints_the_installed_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout.strip() == f"underway {version('underway')}"


def test_delete_removes_the_job(app: App, database: str) -> None:
    job_id = enqueue(database, "add", {"a": 1, "b": 1})

    result = invoke("delete", job_id, "--database", database)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"deleted {job_id}"
    assert app.list() == []


def test_list_filters_by_queue(app: App, database: str) -> None:
    default = enqueue(database, "add", {"a": 1, "b": 1})
    other = enqueue(database, "add", {"a": 2, "b": 2}, "--queue", "other")

    document = as_json("list", "--queue", "other", "--database", database)

    assert isinstance(document, dict)
    assert [job["id"] for job in document["jobs"]] == [other]
    assert default != other


def test_tables_keep_whole_ids_when_stdout_is_not_a_terminal(app: App, database: str) -> None:
    name = "a-rather-long-schedule-name"
    recurring_id = app.add_recurring(name, "*/5 * * * *", "add", {"a": 1, "b": 1})
    job_id = enqueue(database, "add", {"a": 1, "b": 1})

    recurring = invoke("recurring", "list", "--database", database, columns=80)
    jobs = invoke("list", "--database", database, columns=80)

    assert recurring.exit_code == 0, recurring.output
    assert recurring_id in recurring.stdout
    assert name in recurring.stdout
    assert job_id in jobs.stdout


def test_recurring_commands_accept_a_name_in_place_of_the_id(app: App, database: str) -> None:
    recurring_id = app.add_recurring("sums", "0 3 * * *", "add", {"a": 1, "b": 2})
    db = ("--database", database)

    toggled = invoke("recurring", "toggle", "sums", *db)
    triggered = invoke("recurring", "trigger", "sums", "--app", APP, *db)

    assert toggled.stdout.strip() == "sums is disabled"
    assert not app.get_recurring(recurring_id).enabled
    assert triggered.exit_code == 0, triggered.output
    assert app.get(triggered.stdout.strip()).state is JobState.PENDING
    assert invoke("recurring", "remove", "sums", *db).exit_code == 0
    assert app.list_recurring() == []


def test_a_usage_error_is_one_line_with_the_fix(database: str) -> None:
    result = invoke("list", "--colour", "red", "--database", database)

    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: no such option: --colour (see `underway list --help`)")


def test_an_app_given_as_an_argument_is_pointed_to_the_option(database: str) -> None:
    result = invoke("worker", APP, "--database", database)

    assert result.exit_code == 2
    assert result.stderr.strip().endswith(f"(pass the app as an option: --app {APP})")


@pytest.mark.parametrize("command", [[], ["worker"], ["serve"], ["status"], ["recurring", "add"]])
def test_help_shows_no_type_for_flags(command: list[str]) -> None:
    result = invoke(*command, "--help")

    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.stdout


def test_shell_completion_can_be_shown_and_installed() -> None:
    """Run from bash, as a user runs it: the shell is found among the command's parent
    processes (`--show-completion` takes no shell name), which a test runner started
    outside a shell does not have."""
    help_text = invoke("--help").stdout
    command = f"{shlex.quote(sys.executable)} -m underway --show-completion; exit $?"
    shown = subprocess.run(
        ["bash", "-c", command],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert "--install-completion" in help_text
    assert shown.returncode == 0, shown.stderr
    assert "_UNDERWAY_COMPLETE" in shown.stdout
