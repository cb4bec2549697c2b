"""Bad input always gets a clear 4xx JSON error, and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from underway import App, JobFilter
from underway.api import create_api


def stored(app: App) -> int:
    """How many jobs the database holds."""
    return app.list_page(JobFilter(limit=1)).total


@pytest.fixture
def small(app: App) -> Iterator[TestClient]:
    """A client of an API with a 1 KiB body limit."""
    with TestClient(
        create_api(app, insecure=True, allowed_hosts=["testserver"], max_body_bytes=1024)
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{bad", "not valid JSON"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": 1e400}', "out of range"),
        (b'{"a": "\xff\xfe"}', "UTF-8"),
        (b'{"a": "\\ud800"}', "UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "nested"),
        (b'{"a": 1', "not valid JSON"),
    ],
)
def test_malformed_json_is_a_400(client: TestClient, app: App, body: bytes, fragment: str) -> None:
    response = client.post(
        "/api/jobs/add", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MalformedJson"
    assert fragment in response.json()["error"]["message"]
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"a": "x"}, "a"),
        ({}, "a"),
        ({"a": 1, "c": 3}, "c"),
        ({"a": 1, "delay": 3}, "delay"),
        ({"a": {"nested": True}}, "a"),
        ({"a": True}, "a"),
        ({"a": "1"}, "a"),
        ({"a": 1.5}, "a"),
    ],
)
def test_wrong_arguments_are_422_with_field_errors(
    client: TestClient, app: App, body: dict[str, object], target: str
) -> None:
    response = client.post("/api/jobs/add", json=body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidArguments"
    assert "add" in error["message"]
    assert target in [d["target"] for d in error["details"]]
    assert stored(app) == 0


def test_a_body_that_is_not_an_object_is_a_422(client: TestClient, app: App) -> None:
    response = client.post("/api/jobs/add", json=[1, 2])

    assert response.status_code == 422
    assert stored(app) == 0


def test_a_non_json_content_type_is_a_415(client: TestClient, app: App) -> None:
    response = client.post("/api/jobs/add", content=b"a=1", headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"delay": -1}, "query.delay"),
        ({"delay": "soon"}, "query.delay"),
        ({"delay": "inf"}, "query.delay"),
        ({"priority": 10**30}, "query.priority"),
        ({"run_at": "yesterday"}, "query.run_at"),
        ({"run_at": "0.5"}, "query.run_at"),
        ({"run_at": "2026-01-01"}, "query.run_at"),
        ({"run_at": "2026-02-30T00:00:00Z"}, "query.run_at"),
    ],
)
def test_bad_options_are_422_with_field_errors(
    client: TestClient, app: App, params: dict[str, object], target: str
) -> None:
    response = client.post("/api/jobs/add", params=params, json={"a": 1})

    assert response.status_code == 422
    assert target in [d["target"] for d in response.json()["error"]["details"]]
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("run_at", "stored"),
    [
        ("9999-12-31T23:59:59-23:59", "9998-12-31T00:00:00Z"),
        ("0001-01-01T00:00:00+23:59", "1970-01-01T00:00:00Z"),
    ],
)
def test_extreme_run_at_is_clamped_to_storable_times(
    client: TestClient, run_at: str, stored: str
) -> None:
    response = client.post("/api/jobs/add", params={"run_at": run_at}, json={"a": 1})

    assert response.status_code == 202
    assert response.json()["runAt"] == stored


@pytest.mark.parametrize("name", ["nope", "<script>alert(1)</script>", "..", "%2e%2e", "a%2Fb"])
def test_unknown_job_names_are_404(client: TestClient, app: App, name: str) -> None:
    response = client.post(f"/api/jobs/{name}", json={})

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert stored(app) == 0


def test_bodies_over_the_limit_are_413_before_parsing(small: TestClient, app: App) -> None:
    response = small.post(
        "/api/jobs/add", content=b"{" * 2048, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PayloadTooLarge"
    assert stored(app) == 0


def test_chunked_bodies_over_the_limit_are_413(small: TestClient, app: App) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 512

    response = small.post("/api/jobs/add", content=chunks())

    assert response.status_code == 413
    assert stored(app) == 0


def test_the_default_limit_is_one_mebibyte(client: TestClient, app: App) -> None:
    big = b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post("/api/jobs/add", content=big)

    assert response.status_code == 413
    assert stored(app) == 0


def test_unknown_job_ids_are_404_everywhere(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/jobs/x"),
        ("GET", "/api/jobs/x/status"),
        ("GET", "/api/jobs/x/output"),
        ("GET", "/api/jobs/x/logs"),
        ("GET", "/api/jobs/x/events"),
        ("DELETE", "/api/jobs/x"),
        ("POST", "/api/jobs/x/cancel"),
        ("POST", "/api/jobs/x/retry"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "JobNotFound"


def test_unknown_query_values_are_422(client: TestClient) -> None:
    response = client.get("/api/jobs", params={"state": "sleeping"})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"].startswith("query.state")


def test_405_lists_every_allowed_method(client: TestClient) -> None:
    job_monitor = client.patch("/api/jobs/some-id")
    submit_route = client.get("/api/jobs/add")
    listing = client.delete("/api/jobs")

    assert job_monitor.status_code == 405
    assert job_monitor.headers["allow"] == "DELETE, GET"
    assert submit_route.status_code == 405
    assert submit_route.headers["allow"] == "POST"
    assert listing.status_code == 405
    assert listing.headers["allow"] == "GET"


def test_unmatched_paths_are_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_no_server_error_when_the_api_serves_an_app_without_jobs(tmp_path: object) -> None:
    empty = App(f"sqlite:///{tmp_path}/empty.db")
    api: FastAPI = create_api(empty, insecure=True, allowed_hosts=["testserver"])
    with TestClient(api) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.post("/api/jobs/add", json={}).status_code == 404
    empty.close()
