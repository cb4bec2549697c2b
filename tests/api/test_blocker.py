"""GET /api/jobs/{id}/blocker: what holds a job, as JSON; 404 for a job that does not exist."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from underway import App


def test_a_scheduled_job_is_held_until_its_run_at(client: TestClient, app: App) -> None:
    job = app.enqueue("add", {"a": 1}, delay=600).job

    response = client.get(f"/api/jobs/{job.id}/blocker")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["state"]) == (job.id, "scheduled")
    assert datetime.fromisoformat(body["checkedAt"]) < job.run_at
    [reason] = body["reasons"]
    assert reason["kind"] == "scheduled"
    assert reason["message"].startswith("scheduled: due at ")
    assert datetime.fromisoformat(reason["until"]) == job.run_at
    assert datetime.fromisoformat(reason["details"]["run_at"]) == job.run_at
    assert reason["jobIds"] == []


def test_a_job_no_live_worker_serves_says_so(client: TestClient, app: App) -> None:
    job = app.enqueue("add", {"a": 1}, queue="nobody-serves-this").job

    [reason] = client.get(f"/api/jobs/{job.id}/blocker").json()["reasons"]

    assert reason["kind"] == "no_worker"
    assert reason["details"]["queue"] == "nobody-serves-this"
    assert reason["until"] is None


def test_a_finished_job_is_not_waiting(client: TestClient, app: App) -> None:
    handle = app.enqueue("add", {"a": 1})
    handle.result(timeout=20)

    body = client.get(f"/api/jobs/{handle.id}/blocker").json()

    assert body["state"] == "completed"
    assert [reason["kind"] for reason in body["reasons"]] == ["not_waiting"]


def test_an_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/api/jobs/no-such-job/blocker")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "JobNotFound"
