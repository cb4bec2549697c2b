"""Submitting jobs: 202 with Locations, options, idempotency, single-instance, Prefer: wait."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App
from underway.api import create_api

from .support import RELEASED


def state_of(client: TestClient, url: str) -> str:
    return str(client.get(url, params={"redirect": "false"}).json()["state"])


def test_submit_answers_202_with_absolute_locations_and_retry_after(client: TestClient) -> None:
    response = client.post("/api/jobs/add", json={"a": 1, "b": 2})

    assert response.status_code == 202
    body = response.json()
    assert body["name"] == "add"
    assert body["args"] == {"a": 1, "b": 2}
    assert response.headers["location"] == f"http://testserver/api/jobs/{body['id']}"
    assert response.headers["operation-location"] == (
        f"http://testserver/api/jobs/{body['id']}/status"
    )
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["vary"] == "Prefer"
    assert body["links"]["output"].endswith(f"/api/jobs/{body['id']}/output")


def test_urls_follow_root_path_and_the_requests_host(app: App) -> None:
    api = create_api(app, insecure=True, allowed_hosts=["jobs.example.com"])
    with TestClient(
        api,
        base_url="https://jobs.example.com",
        root_path="/under",
        follow_redirects=False,
    ) as proxied:
        response = proxied.post("/under/api/jobs/add", json={"a": 1})

    assert response.status_code == 202
    assert response.headers["location"].startswith("https://jobs.example.com/under/api/jobs/")


def test_delay_schedules_the_job_and_retry_after_counts_down(client: TestClient) -> None:
    response = client.post("/api/jobs/add", params={"delay": 30}, json={"a": 1})

    assert response.status_code == 202
    assert response.json()["state"] == "scheduled"
    assert 20 <= int(response.headers["retry-after"]) <= 30


def test_priority_and_queue_options_are_stored(client: TestClient) -> None:
    response = client.post(
        "/api/jobs/in_reports_queue", params={"priority": 7, "queue": "reports"}, json={}
    )

    assert response.status_code == 202
    assert response.json()["priority"] == 7
    assert response.json()["queue"] == "reports"


def test_unknown_queue_is_a_422_field_error(client: TestClient) -> None:
    response = client.post("/api/jobs/add", params={"queue": "nowhere"}, json={"a": 1})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"] == "query.queue"


def test_delay_and_run_at_together_are_a_422_field_error(client: TestClient) -> None:
    params = {"delay": 5, "run_at": "2030-01-01T00:00:00Z"}
    response = client.post("/api/jobs/add", params=params, json={"a": 1})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"] == "query.run_at"
    assert "not both" in response.json()["error"]["message"]


def test_a_job_parameter_named_like_an_option_is_an_argument(client: TestClient) -> None:
    response = client.post("/api/jobs/remind", params={"delay": 0}, json={"delay": 2.5})

    assert response.status_code == 202
    assert response.json()["args"] == {"delay": 2.5}


def test_idempotency_key_returns_the_same_job(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/api/jobs/add", json={"a": 1}, headers=headers)
    again = client.post("/api/jobs/add", json={"a": 1}, headers=headers)
    other = client.post("/api/jobs/add", json={"a": 1}, headers={"Idempotency-Key": "order-43"})

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]


def test_idempotency_keys_of_different_jobs_do_not_collide(client: TestClient) -> None:
    headers = {"Idempotency-Key": "same"}
    added = client.post("/api/jobs/add", json={"a": 1}, headers=headers)
    reported = client.post("/api/jobs/report", json={"month": "m", "tenant": 1}, headers=headers)

    assert reported.status_code == 202
    assert reported.json()["id"] != added.json()["id"]
    assert reported.json()["name"] == "report"


def test_join_answers_202_with_the_active_jobs_locations(client: TestClient) -> None:
    first = client.post("/api/jobs/shared", json={"key": "j"})
    joined = client.post("/api/jobs/shared", json={"key": "j"})

    assert joined.status_code == 202
    assert joined.json()["joined"] is True
    assert first.json()["joined"] is False
    assert joined.headers["location"] == first.headers["location"]
    RELEASED.add("j")


def test_skip_answers_409_with_the_active_jobs_location(client: TestClient) -> None:
    first = client.post("/api/jobs/single", json={"key": "s"})
    skipped = client.post("/api/jobs/single", json={"key": "s"})

    assert skipped.status_code == 409
    assert skipped.headers["location"] == first.headers["location"]
    assert skipped.json()["error"]["code"] == "DuplicateActive"
    assert skipped.json()["job"]["id"] == first.json()["id"]
    RELEASED.add("s")


def test_prefer_wait_answers_303_to_the_output_when_done_in_time(client: TestClient) -> None:
    response = client.post("/api/jobs/add", json={"a": 40}, headers={"Prefer": "wait=5"})

    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/api/jobs/{response.json()['id']}/output")
    assert response.headers["preference-applied"] == "wait=5"
    assert response.headers["vary"] == "Prefer"
    assert client.get(response.headers["location"]).json() == 42


def test_prefer_wait_answers_200_with_the_error_for_a_failed_job(client: TestClient) -> None:
    response = client.post(
        "/api/jobs/explode", json={"message": "boom"}, headers={"Prefer": "wait=5"}
    )

    assert response.status_code == 200
    assert response.json()["state"] == "failed"
    assert response.json()["error"]["message"] == "boom"


def test_prefer_wait_answers_202_when_the_job_is_not_done_in_time(client: TestClient) -> None:
    response = client.post(
        "/api/jobs/blocking", json={"key": "slow"}, headers={"Prefer": "respond-async, wait=1"}
    )

    assert response.status_code == 202
    assert response.json()["state"] in ("pending", "running")
    RELEASED.add("slow")


def test_prefer_wait_is_capped(client: TestClient, app: App) -> None:
    response = client.post("/api/jobs/add", json={"a": 1}, headers={"Prefer": "wait=99999"})

    assert response.headers["preference-applied"] == "wait=5"


def test_submitted_job_runs_to_completion(client: TestClient) -> None:
    response = client.post("/api/jobs/report", json={"month": "2026-10", "tenant": 7})
    url = response.headers["location"]

    wait_until(lambda: state_of(client, url) == "completed")
    assert client.get(f"{url}/output").json() == {"url": "/reports/2026-10/7"}
