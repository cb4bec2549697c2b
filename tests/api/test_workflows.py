"""Workflows and batches over HTTP: start from JSON, monitor, list, members, cancel, retry;
located errors for bad documents, and nothing stored for them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App

from .support import RELEASED
from .workflow_support import SUMS, ended, members, start, workflow_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    yield from workflow_app(tmp_path)


def test_a_workflow_starts_with_202_and_its_monitor_as_location(client: TestClient) -> None:
    RELEASED.discard("w")
    response = client.post(
        "/api/workflows",
        json={
            "name": "held",
            "flow": {
                "chain": [
                    {"job": "blocking", "args": {"key": "w"}},
                    {"job": "add", "args": {"a": 1}},
                ]
            },
        },
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"http://testserver/api/workflows/{body['id']}"
    assert response.headers["retry-after"] == "1"
    assert (body["kind"], body["name"], body["state"]) == ("workflow", "held", "active")
    assert (body["total"], body["ended"], body["progress"]) == (2, 0, 0)
    assert body["counts"]["waiting"] == 1
    assert set(body["counts"]) >= {"pending", "running", "waiting", "completed", "failed"}
    assert body["links"]["jobs"] == f"http://testserver/api/workflows/{body['id']}/jobs"
    RELEASED.add("w")


def test_results_flow_through_a_chain_and_a_fan_in(client: TestClient) -> None:
    workflow_id = start(client, SUMS, "/api/workflows")

    done = ended(client, workflow_id)

    assert (done["state"], done["progress"], done["ended"], done["total"]) == (
        "completed",
        100,
        4,
        4,
    )
    assert done["counts"]["completed"] == 4
    jobs = members(client, workflow_id)
    assert [job["name"] for job in jobs] == ["add", "add", "add", "total"]
    assert all(job["state"] == "completed" for job in jobs)
    outputs = [client.get(f"/api/jobs/{job['id']}/output").json() for job in jobs]
    assert outputs == [3, 13, 23, 36]


def test_a_batch_calls_back_once_with_its_summary(client: TestClient) -> None:
    document = {
        "name": "nightly",
        "jobs": [
            {"job": "add", "args": {"a": 1}},
            {"job": "add", "args": {"a": 2}},
            {"job": "explode", "args": {"message": "no"}},
        ],
        "on_complete": {"job": "notify", "results_into": "summary"},
        "on_success": {"job": "notify", "results_into": "summary"},
    }
    batch_id = start(client, document, "/api/batches")

    done = ended(client, batch_id)

    assert (done["kind"], done["name"], done["state"]) == ("batch", "nightly", "failed")
    jobs = members(client, batch_id)
    callbacks = [job for job in jobs if job["name"] == "notify"]
    assert [job["state"] for job in callbacks] == ["completed", "cancelled"]
    output = client.get(f"/api/jobs/{callbacks[0]['id']}/output").json()
    assert output == "2 of 3 completed"


def test_workflows_are_listed_newest_first_page_by_page(client: TestClient) -> None:
    first = start(
        client, {"name": "first", "flow": {"job": "add", "args": {"a": 1}}}, "/api/workflows"
    )
    second = start(
        client, {"name": "second", "jobs": [{"job": "add", "args": {"a": 1}}]}, "/api/batches"
    )

    page = client.get("/api/workflows", params={"per_page": 1})
    rest = client.get(page.json()["nextLink"])

    assert page.status_code == 200, page.text
    assert [item["id"] for item in page.json()["items"]] == [second]
    assert (page.json()["total"], page.json()["page"], page.json()["perPage"]) == (2, 1, 1)
    assert [item["id"] for item in rest.json()["items"]] == [first]
    assert rest.json()["nextLink"] is None


def test_members_are_paginated_in_the_order_stored(client: TestClient) -> None:
    workflow_id = start(client, SUMS, "/api/workflows")

    page = client.get(f"/api/workflows/{workflow_id}/jobs", params={"per_page": 3})
    rest = client.get(page.json()["nextLink"])

    assert page.json()["total"] == 4
    names = [job["name"] for job in page.json()["items"] + rest.json()["items"]]
    assert names == ["add", "add", "add", "total"]
    assert page.json()["items"][0]["links"]["self"].startswith("http://testserver/api/jobs/")


def test_cancel_stops_what_has_not_run_and_asks_the_running_to_stop(client: TestClient) -> None:
    RELEASED.discard("c")
    flow = {"chain": [{"job": "blocking", "args": {"key": "c"}}, {"job": "add", "args": {"a": 1}}]}
    workflow_id = start(client, {"flow": flow}, "/api/workflows")
    wait_until(lambda: members(client, workflow_id)[0]["state"] == "running")

    response = client.post(f"/api/workflows/{workflow_id}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["id"] == workflow_id
    done = ended(client, workflow_id)
    assert done["state"] == "cancelled"
    assert [job["state"] for job in members(client, workflow_id)] == ["cancelled", "cancelled"]


def test_retry_runs_again_what_failed_and_what_waited_on_it(client: TestClient) -> None:
    RELEASED.discard("r")
    flow = {
        "chain": [
            {"job": "gate", "args": {"key": "r"}},
            {"job": "gate", "results_into": "key"},
        ]
    }
    workflow_id = start(client, {"flow": flow}, "/api/workflows")
    assert ended(client, workflow_id)["state"] == "failed"
    RELEASED.add("r")

    response = client.post(f"/api/workflows/{workflow_id}/retry")

    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"http://testserver/api/workflows/{workflow_id}"
    assert response.json()["state"] == "active"
    assert ended(client, workflow_id)["state"] == "completed"
    last = members(client, workflow_id)[-1]
    assert client.get(f"/api/jobs/{last['id']}/output").json() == "r"
