"""The job body names the retry rule that decided what a job's error led to, and counts the
job's snoozes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from underway import App, Snooze
from underway.testing import drain

from .support import build_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The API's app without a worker: these tests drain its jobs, then read them."""
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield app
    app.close()


def job_body(client: TestClient, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/jobs/{job_id}?redirect=false").json()
    return body


def test_the_job_body_names_the_rule_that_failed_the_job(app: App, client: TestClient) -> None:
    @app.job(retries=3, discard_on=ValueError)
    def parse(text: str) -> None:
        raise ValueError(f"cannot read {text!r}")

    handle = parse.enqueue("May 32")
    drain(app)

    body = job_body(client, handle.id)
    assert body["state"] == "failed"
    error = body["error"]
    assert (body["attempt"], error["attempt"]) == (1, 1)
    assert (error["code"], error["message"]) == ("ValueError", "cannot read 'May 32'")
    assert error["rule"] == "discard_on: ValueError"


def test_the_job_body_counts_the_snoozes(app: App, client: TestClient) -> None:
    answers = ["busy", "busy", "ok"]

    @app.job
    def call_partner() -> str:
        if answers.pop(0) == "busy":
            raise Snooze(0)
        return "done"

    handle = call_partner.enqueue()
    drain(app)

    body = job_body(client, handle.id)
    assert body["state"] == "completed"
    assert (body["snoozes"], body["attempt"], body["maxAttempts"]) == (2, 3, 3)
