"""`underway queues|pause|resume` against a real SQLite file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from underway import App
from underway.models import QueueLimits

from .commands import invoke

DECLARING_APP = """
from underway import App

app = App()
app.queue("mail", concurrency=2)


@app.job(queue="reports")
def build() -> None: ...
"""


def test_pause_list_and_resume_a_queue(app: App, database: str) -> None:
    app.enqueue("add", {"a": 1, "b": 2})
    app.enqueue("add", {"a": 3, "b": 4})

    paused = invoke("pause", "default", "--by", "alice", "--database", database)
    assert paused.exit_code == 0, paused.output
    assert paused.stdout.strip() == "paused queue default"
    info = app.queue_info("default")
    assert (info.paused, info.paused_by) == (True, "alice")

    listed = invoke("queues", "--database", database)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "default" in line)
    assert "since" in row
    assert "by alice" in row
    assert row.split("│")[3].strip() == "2"  # waiting

    resumed = invoke("resume", "default", "--database", database)
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.strip() == "resumed queue default"
    assert not app.queue_info("default").paused


def test_json_output_is_the_queue_as_stored(app: App, database: str) -> None:
    app.run_blocking(_limits_stored(app, QueueLimits("mail", 3, 10, 60.0, True)))

    paused = invoke("pause", "mail", "--json", "--database", database)
    document = json.loads(paused.stdout)
    assert (document["name"], document["paused"], document["paused_by"]) == ("mail", True, None)
    assert (document["concurrency"], document["rate_limit"]) == (3, 10)

    listed = json.loads(invoke("queues", "--json", "--database", database).stdout)
    assert [q["name"] for q in listed["queues"]] == ["default", "mail"]
    assert listed["queues"][1]["rate_window_s"] == 60.0

    resumed = json.loads(invoke("resume", "mail", "--json", "--database", database).stdout)
    assert (resumed["name"], resumed["paused"], resumed["paused_at"]) == ("mail", False, None)


def test_limits_read_in_words(app: App, database: str) -> None:
    app.run_blocking(_limits_stored(app, QueueLimits("mail", 3, 10, 60.0, True)))

    listed = invoke("queues", "--database", database)

    assert "3 at once, 10/minute (fixed window)" in listed.stdout


def test_the_apps_declared_queues_are_listed_before_any_job_is_stored(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    module = f"queued_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(DECLARING_APP)
    request.addfinalizer(lambda: sys.modules.pop(module, None))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    listed = invoke("queues", "--app", f"{module}:app", "--database", database, "--json")

    assert listed.exit_code == 0, listed.output
    queues = json.loads(listed.stdout)["queues"]
    assert [q["name"] for q in queues] == ["default", "mail", "reports"]
    # Declared limits are stored by the workers, so none is in force yet.
    assert queues[1]["concurrency"] is None


def test_resuming_a_queue_nobody_knows_is_a_one_line_error(database: str) -> None:
    missing = invoke("resume", "nowhere", "--database", database)

    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: no queue named 'nowhere' (see `underway queues`)"


async def _limits_stored(app: App, limits: QueueLimits) -> None:
    await (await app.backend()).sync_queue_limits([limits])
