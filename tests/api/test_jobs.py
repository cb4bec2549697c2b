"""The job monitor, the status view, the output, deletion and the management routes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App, StorageUnavailable

from .support import RELEASED


def submit(client: TestClient, name: str, **args: Any) -> str:
    response = client.post(f"/api/jobs/{name}", json=args)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def finished(client: TestClient, job_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/jobs/{job_id}?redirect=false").json()
        return body if body["state"] in ("completed", "failed", "cancelled") else None

    return wait_until(done)


def running(client: TestClient, job_id: str) -> None:
    wait_until(lambda: client.get(f"/api/jobs/{job_id}").json()["state"] == "running")


def test_monitor_answers_200_with_retry_after_while_active(client: TestClient) -> None:
    job_id = submit(client, "blocking", key="m")
    running(client, job_id)
    wait_until(lambda: client.get(f"/api/jobs/{job_id}").json()["progress"] == 5)

    response = client.get(f"/api/jobs/{job_id}")

    assert response.status_code == 200
    assert response.headers["retry-after"] == "1"
    assert response.json()["state"] == "running"
    assert response.json()["message"] == "holding m"
    RELEASED.add("m")


def test_monitor_redirects_303_to_the_output_once_completed(client: TestClient) -> None:
    job_id = submit(client, "add", a=2)
    finished(client, job_id)

    response = client.get(f"/api/jobs/{job_id}")
    unredirected = client.get(f"/api/jobs/{job_id}", params={"redirect": "false"})

    assert response.status_code == 303
    assert response.headers["location"] == f"http://testserver/api/jobs/{job_id}/output"
    assert response.json()["state"] == "completed"
    assert "retry-after" not in response.headers
    assert unredirected.status_code == 200
    assert client.get(response.headers["location"]).json() == 4


def test_monitor_shows_the_error_of_a_failed_job(client: TestClient) -> None:
    job_id = submit(client, "explode", message="disk full")
    finished(client, job_id)

    response = client.get(f"/api/jobs/{job_id}")

    assert response.status_code == 200
    assert response.json()["state"] == "failed"
    assert response.json()["error"]["code"] == "ValueError"
    assert response.json()["error"]["message"] == "disk full"
    assert response.json()["losses"] == 0, "it failed, it did not lose its worker"


def test_output_is_404_with_the_state_before_completion(client: TestClient) -> None:
    job_id = submit(client, "blocking", key="o")

    response = client.get(f"/api/jobs/{job_id}/output")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NoOutput"
    assert response.json()["job"]["state"] in ("pending", "running")
    RELEASED.add("o")


@pytest.mark.parametrize(
    ("name", "args", "status"),
    [("add", {"a": 1}, "Succeeded"), ("explode", {"message": "x"}, "Failed")],
)
def test_status_view_uses_the_lro_vocabulary(
    client: TestClient, name: str, args: dict[str, Any], status: str
) -> None:
    job_id = submit(client, name, **args)
    finished(client, job_id)

    body = client.get(f"/api/jobs/{job_id}/status").json()

    assert body["status"] == status
    if status == "Succeeded":
        assert body["resourceLocation"] == f"http://testserver/api/jobs/{job_id}/output"
        assert body["error"] is None
    else:
        assert body["resourceLocation"] is None
        assert body["error"] == {"code": "ValueError", "message": "x"}


def test_status_view_of_waiting_and_running_jobs(client: TestClient) -> None:
    scheduled = client.post("/api/jobs/add", params={"delay": 60}, json={"a": 1}).json()["id"]
    held = submit(client, "blocking", key="st")
    running(client, held)

    waiting = client.get(f"/api/jobs/{scheduled}/status")
    busy = client.get(f"/api/jobs/{held}/status")

    assert waiting.status_code == busy.status_code == 200
    assert waiting.json()["status"] == "NotStarted"
    assert busy.json()["status"] == "Running"
    assert "retry-after" in busy.headers
    RELEASED.add("st")


def test_cancel_a_running_job_then_the_status_view_says_canceled(client: TestClient) -> None:
    job_id = submit(client, "blocking", key="never")
    running(client, job_id)

    response = client.post(f"/api/jobs/{job_id}/cancel")
    finished(client, job_id)

    assert response.status_code == 200
    assert response.json()["cancelRequested"] is True
    assert client.get(f"/api/jobs/{job_id}/status").json()["status"] == "Canceled"
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 409


def test_retry_a_failed_job(client: TestClient) -> None:
    job_id = submit(client, "explode", message="again")
    finished(client, job_id)

    response = client.post(f"/api/jobs/{job_id}/retry")

    assert response.status_code == 202
    assert response.headers["location"].endswith(f"/api/jobs/{job_id}")
    assert finished(client, job_id)["attempt"] == 2
    completed = submit(client, "add", a=1)
    finished(client, completed)
    assert client.post(f"/api/jobs/{completed}/retry").status_code == 409


def test_delete_answers_204_then_404_everywhere(client: TestClient) -> None:
    job_id = submit(client, "blocking", key="del")
    running(client, job_id)

    assert client.delete(f"/api/jobs/{job_id}").status_code == 204
    for method, suffix in [
        ("GET", ""),
        ("GET", "/status"),
        ("GET", "/output"),
        ("GET", "/logs"),
        ("GET", "/events"),
        ("POST", "/cancel"),
        ("POST", "/retry"),
        ("DELETE", ""),
    ]:
        assert client.request(method, f"/api/jobs/{job_id}{suffix}").status_code == 404


def test_list_filters_paginates_and_counts(client: TestClient) -> None:
    ids = [submit(client, "add", a=n) for n in range(5)]
    submit(client, "in_reports_queue", n=1)
    for job_id in ids:
        finished(client, job_id)

    first = client.get("/api/jobs", params={"name": "add", "per_page": 2}).json()
    last = client.get("/api/jobs", params={"name": "add", "per_page": 2, "page": 3}).json()
    by_queue = client.get("/api/jobs", params={"queue": "reports"}).json()
    by_state = client.get("/api/jobs", params=[("state", "completed"), ("state", "failed")]).json()
    none_later = client.get("/api/jobs", params={"created_after": "2999-01-01T00:00:00Z"}).json()

    assert first["total"] == 5
    assert [job["id"] for job in first["items"]] == ids[::-1][:2]
    assert "page=2" in first["nextLink"]
    assert [job["id"] for job in last["items"]] == ids[:1]
    assert last["nextLink"] is None
    assert [job["name"] for job in by_queue["items"]] == ["in_reports_queue"]
    assert by_state["total"] >= 5
    assert none_later["total"] == 0


def test_logs_are_paged_by_after(client: TestClient) -> None:
    job_id = submit(client, "report", month="2026-11", tenant=3)
    finished(client, job_id)

    body = client.get(f"/api/jobs/{job_id}/logs").json()
    rest = client.get(f"/api/jobs/{job_id}/logs", params={"after": body["nextAfter"]}).json()

    assert [line["message"] for line in body["items"]] == ["report for tenant 3"]
    assert body["nextAfter"] == 1
    assert rest["items"] == []


def test_stats_count_every_state(client: TestClient) -> None:
    finished(client, submit(client, "add", a=1))

    body = client.get("/api/stats").json()

    assert set(body["counts"]) == {
        "scheduled",
        "pending",
        "running",
        "completed",
        "failed",
        "cancelled",
        "skipped",
        "waiting",
    }
    assert body["counts"]["completed"] == 1
    assert body["throughput"]["lastMinute"] == 1


def test_workers_lists_the_in_process_worker(client: TestClient) -> None:
    job_id = submit(client, "blocking", key="w")
    running(client, job_id)

    workers = wait_until(lambda: client.get("/api/workers").json()["items"])

    assert workers[0]["concurrency"] == 2
    assert job_id in wait_until(lambda: client.get("/api/workers").json()["items"][0]["running"])
    RELEASED.add("w")


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    finished(client, submit(client, "add", a=1))

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'underway_jobs{state="completed"} 1.0' in response.text
    assert 'underway_http_requests_total{method="POST",route="/api/jobs/add",status="202"}' in (
        response.text
    )
    assert 'route="/api/jobs/{job_id}"' in response.text


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_storage_outage_is_503_with_retry_after(
    client: TestClient, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("database is down")

    for method in ("enqueue_async", "get_async", "list_page_async", "stats_async"):
        monkeypatch.setattr(app, method, unavailable)

    for response in [
        client.post("/api/jobs/add", json={"a": 1}),
        client.get("/api/jobs/abc"),
        client.get("/api/jobs"),
        client.get("/api/stats"),
        client.get("/healthz"),
    ]:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"]["code"] == "StorageUnavailable"


def test_events_of_a_finished_job_tell_its_state_and_end(client: TestClient) -> None:
    job_id = submit(client, "report", month="m", tenant=1)
    finished(client, job_id)

    response = client.get(f"/api/jobs/{job_id}/events")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: state" in response.text
    assert '"state": "completed"' in response.text
    assert "event: log" in response.text


def test_events_of_a_deleted_job_end_with_a_deleted_event(client: TestClient, app: App) -> None:
    job_id = submit(client, "blocking", key="gone")
    running(client, job_id)

    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        lines = stream.iter_lines()
        for line in lines:
            if line.startswith("event: state"):
                break
        app.delete(job_id)
        rest = list(lines)

    assert "event: deleted" in rest
