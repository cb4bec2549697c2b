"""Workflows and batches over HTTP: start from JSON, monitor, list, members, cancel, retry;
located errors for bad documents, and nothing stored for them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App, BatchSummary, JobFilter
from underway.api import create_api

from .conftest import FAST_STREAMS, MANAGE_TOKEN, TOKENS, VIEW_TOKEN
from .support import RELEASED, LiveServer, build_app

#: 1+2, then 3+10 and 3+20 side by side, then their sum: 36.
SUMS = {
    "name": "sums",
    "flow": {
        "chain": [
            {"job": "add", "args": {"a": 1, "b": 2}},
            {
                "group": [
                    {"job": "add", "args": {"b": 10}, "results_into": "a"},
                    {"job": "add", "args": {"b": 20}, "results_into": "a"},
                ]
            },
            {"job": "total", "results_into": "numbers"},
        ]
    },
}


def add_workflow_jobs(app: App) -> None:
    """Jobs that take what came before them: a list of results, a batch's summary."""

    @app.job
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    @app.job
    def notify(summary: BatchSummary) -> str:
        return f"{summary.completed} of {summary.total} completed"

    @app.job
    def gate(key: str) -> str:
        """Fails until the test releases `key`."""
        if key not in RELEASED:
            raise RuntimeError(f"{key} is closed")
        return key


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    add_workflow_jobs(app)
    app.start_worker(concurrency=2, poll_interval=0.05, flush_interval=0.05, shutdown_grace=2.0)
    yield app
    RELEASED.add("*")
    app.close()
    RELEASED.clear()


def start(client: TestClient | httpx.Client, document: dict[str, Any], path: str) -> str:
    response = client.post(path, json=document)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def ended(client: TestClient | httpx.Client, workflow_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any]:
        body: dict[str, Any] = client.get(f"/api/workflows/{workflow_id}").json()
        return {} if body["state"] == "active" else body

    return wait_until(done)


def members(client: TestClient | httpx.Client, workflow_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/workflows/{workflow_id}/jobs")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def stored(app: App) -> tuple[int, int]:
    """How many workflows and jobs the database holds."""
    return app.workflows(1).total, app.list_page(JobFilter(limit=1)).total


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


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("GET", "/jobs"), ("POST", "/cancel"), ("POST", "/retry")]
)
def test_an_unknown_id_is_a_404(client: TestClient, method: str, suffix: str) -> None:
    response = client.request(method, f"/api/workflows/no-such-id{suffix}")

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "WorkflowNotFound"
    assert "no-such-id" in response.json()["error"]["message"]


WORKFLOW_ERRORS = [
    (
        {
            "flow": {
                "chain": [
                    {"job": "add", "args": {"a": 1}},
                    {"group": [{"job": "report", "args": {"month": "m", "tenant": "x"}}]},
                ]
            }
        },
        [("flow.chain[1].group[0].args.tenant", "int_parsing")],
    ),
    ({"flow": {"job": "nope"}}, [("flow.job", "unknown_job")]),
    ({"flow": {"job": "add", "args": {"a": 1, "c": 2}}}, [("flow.args.c", "extra_forbidden")]),
    ({"flow": {"job": "add", "args": {"a": 1}, "when": 2}}, [("flow.when", "extra_forbidden")]),
    ({"flow": {"chain": []}}, [("flow.chain", "too_short")]),
    ({"flow": {"group": [{"chain": [3]}]}}, [("flow.group[0].chain[0]", "workflow_part")]),
    ({"flow": {"job": "add", "args": {"a": 1}, "priority": "5"}}, [("flow.priority", "int_type")]),
    (
        {"flow": {"job": "add", "args": {"a": 1}, "run_if": "maybe"}},
        [("flow.run_if", "literal_error")],
    ),
    ({"flow": {"job": "add", "args": {"a": 1}, "queue": "nowhere"}}, [("flow.queue", "enum")]),
    ({"flow": {"job": "add", "results_into": "a"}}, [("flow.results_into", "results_into")]),
    (
        {
            "flow": {
                "chain": [{"job": "add", "args": {"a": 1}}, {"job": "add", "results_into": "z"}]
            }
        },
        [("flow.chain[1].results_into", "results_into")],
    ),
    ({}, [("flow", "missing")]),
    (
        {"flow": {"group": [{"job": "nope"}, {"job": "add"}]}},
        [("flow.group[0].job", "unknown_job"), ("flow.group[1].args.a", "missing")],
    ),
]


@pytest.mark.parametrize(("document", "expected"), WORKFLOW_ERRORS)
def test_a_bad_workflow_is_a_422_naming_where_and_stores_nothing(
    client: TestClient, app: App, document: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    response = client.post("/api/workflows", json=document)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidWorkflow"
    assert [(d["target"], d["code"]) for d in error["details"]] == expected
    assert expected[0][0] in error["message"]
    assert stored(app) == (0, 0)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"jobs": []}, [("jobs", "too_short")]),
        ({"jobs": [{"job": "add", "args": {"a": "x"}}]}, [("jobs[0].args.a", "int_parsing")]),
        (
            {"jobs": [{"job": "add", "results_into": "a"}]},
            [("jobs[0].results_into", "results_into")],
        ),
        (
            {"jobs": [{"job": "add", "args": {"a": 1}}], "on_success": {"job": "nope"}},
            [("on_success.job", "unknown_job")],
        ),
        ({"jobs": [{"job": "add", "args": {"a": 1}}], "then": {}}, [("then", "extra_forbidden")]),
    ],
)
def test_a_bad_batch_is_a_422_naming_where_and_stores_nothing(
    client: TestClient, app: App, document: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    response = client.post("/api/batches", json=document)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "InvalidBatch"
    assert [(d["target"], d["code"]) for d in response.json()["error"]["details"]] == expected
    assert stored(app) == (0, 0)


def test_a_field_error_gives_its_location_as_a_list_too(client: TestClient) -> None:
    document = {"flow": {"chain": [{"job": "add", "args": {"a": 1}}, {"group": [{"job": "add"}]}]}}

    detail = client.post("/api/workflows", json=document).json()["error"]["details"][0]

    assert detail["loc"] == ["flow", "chain", 1, "group", 0, "args", "a"]


@pytest.mark.parametrize("path", ["/api/workflows", "/api/batches"])
def test_malformed_json_is_a_400_and_other_media_a_415(
    client: TestClient, app: App, path: str
) -> None:
    malformed = client.post(
        path, content=b'{"flow": ', headers={"Content-Type": "application/json"}
    )
    not_json = client.post(path, content=b"flow", headers={"Content-Type": "text/plain"})
    not_an_object = client.post(path, json=[SUMS])

    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "MalformedJson"
    assert not_json.status_code == 415
    assert not_an_object.status_code == 422
    assert stored(app) == (0, 0)


def test_the_document_shapes_are_published_with_the_jobs_they_may_name(
    client: TestClient, app: App
) -> None:
    document = client.get("/openapi.json").json()

    body = document["paths"]["/api/workflows"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkflowDocument"
    }
    schemas = document["components"]["schemas"]
    assert {
        "WorkflowDocument",
        "BatchDocument",
        "StepDocument",
        "ChainDocument",
        "GroupDocument",
    } <= set(schemas)
    assert schemas["StepDocument"]["properties"]["job"]["enum"] == sorted(app.registry)
    accepted = document["paths"]["/api/batches"]["post"]["responses"]["202"]
    assert "Location" in accepted["headers"]


@pytest.fixture
def live_server(app: App) -> Iterator[LiveServer]:
    server = LiveServer(create_api(app, tokens=TOKENS, streams=FAST_STREAMS)).start()
    yield server
    server.stop()


def http(server: LiveServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def test_on_a_real_server_viewers_read_and_managers_start_cancel_and_retry(
    live_server: LiveServer,
) -> None:
    with http(live_server, MANAGE_TOKEN) as manager, http(live_server, VIEW_TOKEN) as viewer:
        workflow_id = start(manager, SUMS, "/api/workflows")
        assert ended(viewer, workflow_id)["state"] == "completed"
        reads = [
            f"/api/workflows/{workflow_id}",
            f"/api/workflows/{workflow_id}/jobs",
            "/api/workflows",
        ]
        changes = [
            ("/api/workflows", SUMS),
            ("/api/batches", {"jobs": [{"job": "add", "args": {"a": 1}}]}),
            (f"/api/workflows/{workflow_id}/cancel", None),
            (f"/api/workflows/{workflow_id}/retry", None),
        ]

        assert [viewer.get(path).status_code for path in reads] == [200, 200, 200]
        assert [viewer.post(path, json=body).status_code for path, body in changes] == [403] * 4
        denied = viewer.post("/api/workflows", json=SUMS).json()["error"]
        assert "jobs:manage" in denied["message"]
        assert manager.post(f"/api/workflows/{workflow_id}/cancel").status_code == 200
        assert manager.post(f"/api/workflows/{workflow_id}/retry").status_code == 202
        assert manager.get("/api/workflows").json()["total"] == 1

    with http(live_server, None) as anonymous:
        assert anonymous.get("/api/workflows").status_code == 401
        assert anonymous.post("/api/workflows", json=SUMS).status_code == 401


def test_urls_handed_out_are_absolute_on_the_real_server(live_server: LiveServer) -> None:
    with http(live_server, MANAGE_TOKEN) as manager:
        response = manager.post("/api/workflows", json=SUMS)

    body = response.json()
    assert response.headers["location"] == f"{live_server.url}/api/workflows/{body['id']}"
    assert body["links"]["self"] == response.headers["location"]
