"""The history and the alerts over HTTP: steps, totals and a job name's percentiles from the
rollup; queues nobody serves, failure rates above normal and jobs waiting too long."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App
from underway.api import create_api
from underway.app.alerts import AlertRules

from ..dashboard.support import wait_finished


@pytest.fixture
def strict(app: App) -> Iterator[TestClient]:
    """A client of an API whose oldest-waiting threshold is a twentieth of a second."""
    api = create_api(
        app,
        insecure=True,
        allowed_hosts=["testserver"],
        alert_rules=AlertRules(oldest_waiting_s=0.05),
    )
    with TestClient(api) as client:
        yield client


def finished(app: App, ok: int, failing: int) -> None:
    ids = [app.enqueue("add", {"a": i}).id for i in range(ok)]
    ids += [app.enqueue("explode", {"message": f"boom {i}"}).id for i in range(failing)]
    wait_finished(app, *ids)
    app.roll_up_history(settle_s=0)


def test_history_counts_finished_jobs_per_step_queue_and_name(client: TestClient, app: App) -> None:
    finished(app, ok=3, failing=1)

    body: dict[str, Any] = client.get("/api/history", params={"window": "1h"}).json()

    assert (body["window"], body["stepS"], len(body["steps"])) == ("1h", 60, 60)
    assert sum(step["completed"] for step in body["steps"]) == 3
    assert sum(step["failed"] for step in body["steps"]) == 1
    assert body["byName"]["add"]["completed"] == 3
    assert body["byQueue"]["default"] == {
        "completed": 3,
        "failed": 1,
        "cancelled": 0,
        "skipped": 0,
    }
    assert body["summary"] is None


def test_a_job_names_history_has_its_failure_rate_and_percentiles(
    client: TestClient, app: App
) -> None:
    finished(app, ok=2, failing=2)

    body = client.get("/api/history", params={"window": "24h", "name": "explode"}).json()

    summary = body["summary"]
    assert (summary["name"], summary["runs"], summary["failureRate"]) == ("explode", 2, 1.0)
    assert summary["p50DurationS"] is not None
    assert summary["p95WaitS"] is not None
    assert len(body["steps"]) == 144
    assert any(step["p95DurationS"] is not None for step in body["steps"])


def test_a_bad_window_is_refused_with_the_field(client: TestClient) -> None:
    response = client.get("/api/history", params={"window": "1y"})
    assert response.status_code == 422
    assert "window" in response.text


def test_a_failure_rate_above_normal_is_an_alert(client: TestClient, app: App) -> None:
    finished(app, ok=1, failing=10)

    body = client.get("/api/alerts").json()

    [alert] = [a for a in body["items"] if a["kind"] == "failure_rate"]
    assert alert["subject"] == "explode"
    assert "100% of 10 runs" in alert["message"]
    assert "normal is 0%" in alert["message"]
    assert "7 days" in body["normal"]


def test_waiting_jobs_no_worker_serves_and_that_waited_too_long_are_alerts(
    strict: TestClient, app: App
) -> None:
    app.enqueue("add", {"a": 1}, queue="nobody-serves-this")

    def alerts() -> list[tuple[str, str]]:
        items = strict.get("/api/alerts").json()["items"]
        found = sorted((a["kind"], a["subject"]) for a in items)
        return found if len(found) == 2 else []

    assert wait_until(alerts) == [
        ("no_live_worker", "nobody-serves-this"),
        ("oldest_waiting", "nobody-serves-this"),
    ]
    assert strict.get("/api/alerts").json()["oldestWaitingS"] == 0.05
