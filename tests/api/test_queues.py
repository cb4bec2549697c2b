"""Queues over HTTP: list and read them, pause and resume, and bad requests."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App
from underway.models import JobState, QueueLimits


def queue(client: TestClient, name: str) -> dict[str, Any]:
    response = client.get(f"/api/queues/{name}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_every_queue_of_the_app_is_listed_with_its_worker(client: TestClient, app: App) -> None:
    worker_id = app.running_workers[0].worker.id

    def served() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = client.get("/api/queues").json()["items"]
        return items if items[0]["workers"] else []

    listed = wait_until(served)

    assert [q["name"] for q in listed] == ["default", "reports"]
    default = listed[0]
    assert default["workers"] == [worker_id]
    assert default["counts"] == {state.value: 0 for state in JobState}
    assert (default["paused"], default["pausedAt"], default["pausedBy"]) == (False, None, None)
    assert (default["concurrency"], default["rateLimit"]) == (None, None)
    assert default["oldestWaitingAt"] is None


def test_pause_and_resume(client: TestClient, app: App) -> None:
    paused = client.post("/api/queues/reports/pause", json={"by": "alice"})
    assert paused.status_code == 200, paused.text
    assert (paused.json()["paused"], paused.json()["pausedBy"]) == (True, "alice")
    assert paused.json()["pausedAt"] is not None
    handle = app.enqueue("in_reports_queue", {"n": 7})

    shown = queue(client, "reports")
    assert shown["paused"]
    assert shown["counts"]["pending"] == 1
    assert shown["oldestWaitingAt"] is not None
    assert app.get(handle.id).state is JobState.PENDING

    resumed = client.post("/api/queues/reports/resume")
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["paused"], resumed.json()["pausedAt"]) == (False, None)
    assert handle.result(timeout=10) == 7
    assert queue(client, "reports")["startedLastMinute"] == 1


def test_a_queue_not_deployed_yet_may_be_paused_without_a_body(client: TestClient) -> None:
    assert client.get("/api/queues/later").status_code == 404

    paused = client.post("/api/queues/later/pause")

    assert paused.status_code == 200, paused.text
    assert (paused.json()["name"], paused.json()["pausedBy"]) == ("later", None)
    assert queue(client, "later")["paused"]


def test_limits_are_shown_with_the_rate_in_words(client: TestClient, app: App) -> None:
    # A listed worker has stored the limits declared in code; these replace them.
    wait_until(lambda: queue(client, "reports")["workers"])
    app.run_blocking(_limits_stored(app, QueueLimits("reports", 4, 10, 1.0, False)))

    shown = queue(client, "reports")

    assert shown["concurrency"] == 4
    assert shown["rateLimit"] == {
        "limit": 10,
        "perSeconds": 1.0,
        "window": "sliding",
        "text": "10/second",
    }


def test_unknown_queues_are_404(client: TestClient) -> None:
    for response in (client.get("/api/queues/nowhere"), client.post("/api/queues/nowhere/resume")):
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "QueueNotFound",
            "message": "no queue named 'nowhere'",
            "target": None,
            "details": [],
        }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"by": 7}, 422),
        ({"by": "a\x00b"}, 422),
        ({"by": "x" * 201}, 422),
        ({"who": "alice"}, 422),
        ([], 422),
    ],
)
def test_bad_pause_bodies_are_refused_and_change_nothing(
    client: TestClient, body: Any, status: int
) -> None:
    response = client.post("/api/queues/reports/pause", json=body)

    assert response.status_code == status, response.text
    assert not queue(client, "reports")["paused"]


def test_a_malformed_pause_body_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/queues/reports/pause", content=b"{", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400


async def _limits_stored(app: App, limits: QueueLimits) -> None:
    await (await app.backend()).sync_queue_limits([limits])
