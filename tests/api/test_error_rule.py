"""The job body names the retry rule that decided what a job's error led to, and counts the
job's snoozes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App, Snooze


def test_the_job_body_names_the_rule_that_failed_the_job(app: App, client: TestClient) -> None:
    @app.job(retries=3, discard_on=ValueError)
    def parse(text: str) -> None:
        raise ValueError(f"cannot read {text!r}")

    handle = parse.enqueue("May 32")

    def failed_body() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/jobs/{handle.id}?redirect=false").json()
        return body if body["state"] == "failed" else None

    body = wait_until(failed_body)
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

    def completed_body() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/jobs/{handle.id}?redirect=false").json()
        return body if body["state"] == "completed" else None

    body = wait_until(completed_body)
    assert (body["snoozes"], body["attempt"], body["maxAttempts"]) == (2, 3, 3)
