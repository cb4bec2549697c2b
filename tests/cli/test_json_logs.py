"""`--log-format json`: one JSON object per log line, with the record's structured fields."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.waiting import wait_until
from underway import App
from underway.cli.common_options import LogFormat
from underway.cli.json_logs import JsonLogFormatter
from underway.cli.worker_command import configure_logging

from .commands import invoke

StartWorker = Callable[..., tuple[subprocess.Popen[Any], Path]]


def test_a_json_log_line_carries_time_level_logger_message_and_extra_fields() -> None:
    from underway.cli.json_logs import JsonLogFormatter

    record = logging.makeLogRecord(
        {
            "name": "underway.worker",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "job %s failed",
            "args": ("add",),
            "created": 1_790_000_000.25,
            "job_id": "0193",
            "job_name": "add",
            "attempt": 2,
        }
    )

    line = JsonLogFormatter().format(record)

    assert json.loads(line) == {
        "time": "2026-09-21T14:13:20.250+00:00",
        "level": "warning",
        "logger": "underway.worker",
        "message": "job add failed",
        "job_id": "0193",
        "job_name": "add",
        "attempt": 2,
    }


def test_an_exception_is_one_field_of_the_same_line() -> None:
    from underway.cli.json_logs import JsonLogFormatter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    entry = json.loads(JsonLogFormatter().format(record))

    assert entry["message"] == "failed"
    assert "RuntimeError: boom" in entry["exception"]


def test_worker_logs_one_json_object_per_line(
    start_worker: StartWorker, app: App, database: str
) -> None:
    job_id = app.enqueue("fail", {"message": "boom"}).id
    worker, log = start_worker("--log-format", "json")
    wait_until(lambda: job_id in log.read_text(), timeout=30)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0

    entries = [json.loads(line) for line in log.read_text().splitlines()]

    assert entries
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys()
    assert any(job_id in entry["message"] and entry["level"] == "error" for entry in entries)


def test_an_unknown_log_format_is_a_usage_error(database: str) -> None:
    app = ("--app", "tests.cli.sample_jobs:app")
    result = invoke("worker", *app, "--database", database, "--log-format", "xml")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "xml" in result.stderr


def test_configuring_logging_again_replaces_the_handler_instead_of_adding_one() -> None:
    root = logging.getLogger()
    before = len(root.handlers)

    configure_logging("info")
    configure_logging("debug", LogFormat.JSON)

    added = root.handlers[before:]
    assert len(added) == 1
    assert isinstance(added[0].formatter, JsonLogFormatter)
    assert root.level == logging.DEBUG
