"""Bad input gets one readable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from .commands import invoke, run

APP = "tests.cli.sample_jobs:app"
ADD = ["enqueue", "--app", APP, "add"]


def assert_one_error_line(output: str, *expected: str) -> None:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert "Traceback" not in output
    for text in expected:
        assert text in lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["enqueue", "--app", APP, "nope"], ["no job named 'nope'"]),
        ([*ADD, "--args", "{bad"], ["--args is not valid JSON"]),
        ([*ADD, "--args", "[1, 2]"], ["must be a JSON object"]),
        ([*ADD, "--args", '{"a": "x", "b": 1}'], ["'add'", "a:", "integer"]),
        ([*ADD, "--args", '{"a": 1}'], ["b:", "required"]),
        ([*ADD, "--args", '{"a": 1, "b": 2, "c": 3}'], ["c:", "Extra"]),
        (["enqueue", "--app", "no_such_module:app", "add"], ["cannot import 'no_such_module'"]),
        (["enqueue", "--app", "tests.cli.sample_jobs", "add"], ["module:attribute"]),
        (["enqueue", "--app", "tests.cli.sample_jobs:nope", "add"], ["no attribute 'nope'"]),
        (["enqueue", "--app", "tests.cli.sample_jobs:make_app", "add"], ["not an underway App"]),
        (["list", "--state", "finished"], ["unknown state 'finished'"]),
    ],
)
def test_bad_input_is_one_error_line(database: str, args: list[str], expected: list[str]) -> None:
    result = invoke(*args, "--database", database)

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, *expected)


@pytest.mark.parametrize("command", ["status", "cancel", "retry"])
def test_an_unknown_job_id_is_one_error_line(database: str, command: str) -> None:
    result = invoke(command, "no-such-id", "--database", database)

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "job no-such-id not found")


def test_cancelling_a_finished_job_is_one_error_line(database: str) -> None:
    job_id = invoke(*ADD, "--args", '{"a": 1, "b": 1}', "--database", database)
    invoke("cancel", job_id.stdout.strip(), "--database", database)

    result = invoke("cancel", job_id.stdout.strip(), "--database", database)

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "already cancelled")


def test_a_missing_database_file_is_one_error_line(tmp_path: Path) -> None:
    result = invoke("list", "--database", f"sqlite:///{tmp_path / 'missing.db'}")

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "no database at", "missing.db")


def test_an_unreachable_database_is_one_error_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'jobs.db'}"

    result = invoke(
        "enqueue", "--app", APP, "--create", "add", "--args", '{"a": 1, "b": 1}', "--database", url
    )

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "does not exist")


def test_a_file_that_is_not_a_database_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just some notes\n" * 100)

    result = invoke("list", "--database", f"sqlite:///{path}")

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "notes.db")


def test_an_unsupported_database_url_is_one_error_line() -> None:
    result = invoke("list", "--database", "mysql://localhost/jobs")

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "unsupported database URL")


def test_a_module_that_fails_to_import_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "broken_jobs.py").write_text("import json\n\nraise RuntimeError('no config')\n")

    result = run("worker", "--app", "broken_jobs:app", cwd=tmp_path)

    assert result.returncode == 1
    assert_one_error_line(result.stderr, "RuntimeError: no config", "broken_jobs.py:3")
