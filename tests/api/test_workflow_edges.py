"""Workflows and batches over HTTP, at the edges: unknown ids, bad documents located and
nothing stored for them, malformed requests, the shapes the API publishes; and a real server
with its tokens' permissions and absolute URLs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from underway import App
from underway.api import create_api

from .conftest import FAST_STREAMS, MANAGE_TOKEN, TOKENS, VIEW_TOKEN
from .support import LiveServer
from .workflow_support import SUMS, ended, start, stored, workflow_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    yield from workflow_app(tmp_path)


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
