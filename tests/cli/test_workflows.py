"""`underway workflows` and `underway workflow show|start|cancel|retry` against a real SQLite
file, with an in-process worker where a workflow has to run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.api.workflow_support import SUMS
from tests.waiting import wait_until
from underway import App, JobState
from underway.cli import cli

from .commands import CHOOSING_VARIABLES, invoke
from .conftest import FAST
from .workflow_jobs import OPEN, make_app

APP = "tests.cli.workflow_jobs:app"
SLOW = {
    "flow": {
        "chain": [
            {"job": "slow", "args": {"seconds": 60}},
            {"job": "add", "args": {"a": 1, "b": 1}},
        ]
    }
}


@pytest.fixture
def app(database: str) -> Iterator[App]:
    app = make_app(database)
    yield app
    app.close()


@pytest.fixture
def worker(database: str) -> Iterator[App]:
    worker_app = make_app(database)
    worker_app.start_worker(FAST)
    yield worker_app
    worker_app.close()
    OPEN.clear()


def written(tmp_path: Path, document: Any, name: str = "flow.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def start(database: str, file: str, *options: str) -> Result:
    return invoke("workflow", "start", file, "--app", APP, "--database", database, *options)


def started(database: str, file: str) -> str:
    result = start(database, file)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_start_prints_the_id_and_show_lists_the_members(
    app: App, database: str, tmp_path: Path
) -> None:
    workflow_id = started(database, written(tmp_path, SUMS))

    shown = invoke("workflow", "show", workflow_id, "--database", database)

    assert shown.exit_code == 0, shown.output
    assert app.workflow(workflow_id).status().total == 4
    assert "sums" in shown.stdout
    assert "active" in shown.stdout
    assert "0/4 ended" in shown.stdout
    assert "1 pending, 3 waiting" in shown.stdout
    member_rows = [line for line in shown.stdout.splitlines() if " add " in line or "total" in line]
    assert len(member_rows) == 4
    assert "waiting" in member_rows[-1]


def test_a_workflow_runs_to_its_end_with_results_through_a_chain_and_a_fan_in(
    worker: App, database: str, tmp_path: Path
) -> None:
    result = start(database, written(tmp_path, SUMS), "--wait", "--timeout", "20")

    assert result.exit_code == 0, result.output
    workflow_id = result.stdout.splitlines()[0].strip()
    assert "completed: 4 completed" in result.stdout
    jobs = worker.workflow(workflow_id).jobs()
    assert [job.result for job in jobs] == [3, 13, 23, 36]


def test_wait_exits_1_when_a_member_failed(worker: App, database: str, tmp_path: Path) -> None:
    flow = {
        "flow": {
            "chain": [
                {"job": "fail", "args": {"message": "boom"}},
                {"job": "add", "args": {"a": 1, "b": 1}},
            ]
        }
    }

    result = start(database, written(tmp_path, flow), "--wait", "--timeout", "20")

    assert result.exit_code == 1
    assert "failed: 1 cancelled, 1 failed" in result.stderr


def test_wait_gives_up_after_the_timeout(app: App, database: str, tmp_path: Path) -> None:
    result = start(database, written(tmp_path, SUMS), "--wait", "--timeout", "0.2")

    assert result.exit_code == 1
    assert "still active after waiting 0.2 s (0 of 4 jobs ended)" in result.stderr


def test_json_output_is_the_workflow_as_the_api_shows_it(
    worker: App, database: str, tmp_path: Path
) -> None:
    result = start(database, written(tmp_path, SUMS), "--wait", "--json", "--timeout", "20")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["kind"], document["name"], document["state"]) == (
        "workflow",
        "sums",
        "completed",
    )
    assert (document["progress"], document["ended"], document["total"]) == (100, 4, 4)
    assert document["counts"]["completed"] == 4
    shown = json.loads(
        invoke("workflow", "show", document["id"], "--json", "--database", database).stdout
    )
    assert [job["result"] for job in shown["jobs"]] == [3, 13, 23, 36]
    listed = json.loads(invoke("workflows", "--json", "--database", database).stdout)
    assert (listed["total"], listed["workflows"][0]["id"]) == (1, document["id"])


def test_a_batch_is_read_from_stdin(app: App, database: str) -> None:
    batch = {
        "name": "two",
        "jobs": [
            {"job": "add", "args": {"a": 1, "b": 1}},
            {"job": "add", "args": {"a": 2, "b": 2}},
        ],
        "on_complete": {"job": "add", "args": {"a": 0, "b": 0}},
    }
    variables: dict[str, str | None] = dict.fromkeys(CHOOSING_VARIABLES)
    result = CliRunner().invoke(
        cli,
        ["workflow", "start", "-", "--app", APP, "--database", database, "--json"],
        input=json.dumps(batch),
        env={**variables, "NO_COLOR": "1"},
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["kind"], document["name"], document["total"]) == ("batch", "two", 3)
    assert document["counts"]["waiting"] == 1


def test_workflows_lists_newest_first(app: App, database: str, tmp_path: Path) -> None:
    first = started(database, written(tmp_path, SUMS))
    second = started(
        database, written(tmp_path, {"jobs": [{"job": "add", "args": {"a": 1, "b": 1}}]})
    )

    listed = invoke("workflows", "--database", database)

    assert listed.exit_code == 0, listed.output
    assert listed.stdout.index(second) < listed.stdout.index(first)
    assert "2 of 2 workflows" in listed.stdout
    row = next(line for line in listed.stdout.splitlines() if first in line)
    assert "sums" in row
    assert "0/4" in row
    limited = invoke("workflows", "--limit", "1", "--database", database)
    assert first not in limited.stdout
    assert "1 of 2 workflows" in limited.stdout


def test_cancel_stops_every_member_that_has_not_started(
    app: App, database: str, tmp_path: Path
) -> None:
    workflow_id = started(database, written(tmp_path, SLOW))

    result = invoke("workflow", "cancel", workflow_id, "--database", database)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"workflow {workflow_id} is cancelled: 2 cancelled"
    assert {job.state for job in app.workflow(workflow_id).jobs()} == {JobState.CANCELLED}


def test_cancel_asks_a_running_member_to_stop(worker: App, database: str, tmp_path: Path) -> None:
    workflow_id = started(database, written(tmp_path, SLOW))
    wait_until(lambda: worker.workflow(workflow_id).jobs()[0].state is JobState.RUNNING)

    result = invoke("workflow", "cancel", workflow_id, "--json", "--database", database)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == workflow_id
    done = worker.workflow(workflow_id).wait(timeout=10)
    assert (done.state, done.counts) == ("cancelled", {"cancelled": 2})


def test_retry_runs_again_what_failed_and_what_waited_on_it(
    worker: App, database: str, tmp_path: Path
) -> None:
    flow = {
        "flow": {
            "chain": [{"job": "gate", "args": {"key": "g"}}, {"job": "gate", "results_into": "key"}]
        }
    }
    workflow_id = started(database, written(tmp_path, flow))
    assert worker.workflow(workflow_id).wait(timeout=10).state == "failed"
    OPEN.add("g")

    result = invoke("workflow", "retry", workflow_id, "--database", database)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"workflow {workflow_id} is active")
    assert worker.workflow(workflow_id).wait(timeout=10).state == "completed"
    assert [job.result for job in worker.workflow(workflow_id).jobs()] == ["g", "g"]


BAD_DOCUMENTS = [
    (
        {
            "flow": {
                "chain": [
                    {"job": "add", "args": {"a": 1, "b": 2}},
                    {"group": [{"job": "add", "args": {"a": "x", "b": 1}}]},
                ]
            }
        },
        "flow.chain[1].group[0].args.a:",
    ),
    ({"flow": {"job": "nope"}}, "flow.job: no job named 'nope' is registered"),
    ({"flow": {"chain": []}}, "flow.chain: List should have at least 1 item"),
    (
        {"jobs": [{"job": "add", "args": {"a": 1}}]},
        "invalid batch document: jobs[0].args.b: Field required",
    ),
    ({"steps": []}, 'expected a workflow {"flow": ...} or a batch {"jobs": [...]}'),
]


@pytest.mark.parametrize(("document", "expected"), BAD_DOCUMENTS)
def test_a_bad_document_is_one_error_line_naming_where_and_stores_nothing(
    app: App, database: str, tmp_path: Path, document: Any, expected: str
) -> None:
    result = start(database, written(tmp_path, document))

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert app.workflows().total == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{bad", "is not valid JSON"), (None, "cannot read"), (b"\xff", "is not UTF-8 text")],
)
def test_an_unreadable_file_is_one_error_line(
    database: str, tmp_path: Path, content: bytes | str | None, expected: str
) -> None:
    path = tmp_path / "flow.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)

    result = start(database, str(path))

    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr


def test_start_needs_the_app(database: str, tmp_path: Path) -> None:
    result = invoke("workflow", "start", written(tmp_path, SUMS), "--database", database)

    assert result.exit_code == 1
    assert "workflow start needs your app" in result.stderr


@pytest.mark.parametrize("command", ["show", "cancel", "retry"])
def test_an_unknown_id_is_one_error_line_with_a_hint(database: str, command: str) -> None:
    result = invoke("workflow", command, "no-such-id", "--database", database)

    assert result.exit_code == 1
    assert (
        result.stderr.strip() == "error: workflow no-such-id not found (see `underway workflows`)"
    )


def test_errors_are_json_with_json(database: str) -> None:
    result = invoke("workflow", "show", "no-such-id", "--json", "--database", database)

    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["type"] == "WorkflowNotFound"
