"""Recurring jobs over HTTP: create, read, toggle, trigger, delete, and bad definitions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from underway import App

DAILY = {
    "name": "nightly",
    "cron": "0 3 * * *",
    "job": "add",
    "args": {"a": 1},
    "timezone": "Europe/Berlin",
}


def create(client: TestClient, body: dict[str, Any] = DAILY) -> dict[str, Any]:
    response = client.post("/api/recurring", json=body)
    assert response.status_code == 201, response.text
    assert (
        response.headers["location"] == f"http://testserver/api/recurring/{response.json()['id']}"
    )
    data: dict[str, Any] = response.json()
    return data


def test_create_read_list_toggle_trigger_delete(client: TestClient) -> None:
    created = create(client)
    assert created["description"] == "At 03:00 every day"
    assert created["enabled"] is True
    assert created["nextRunAt"] is not None
    rid = created["id"]
    assert client.get(f"/api/recurring/{rid}").json() == created
    assert [r["name"] for r in client.get("/api/recurring").json()["items"]] == ["nightly"]

    toggled = client.post(f"/api/recurring/{rid}/toggle").json()
    assert (toggled["enabled"], toggled["nextRunAt"]) == (False, None)

    triggered = client.post(f"/api/recurring/{rid}/trigger")
    assert triggered.status_code == 202
    job_url = triggered.headers["location"]
    assert job_url == f"http://testserver/api/jobs/{triggered.json()['id']}"
    after = client.get(f"/api/recurring/{rid}").json()
    assert after["lastJob"] == job_url

    assert client.delete(f"/api/recurring/{rid}").status_code == 204
    for method, path in [("GET", ""), ("POST", "/toggle"), ("POST", "/trigger"), ("DELETE", "")]:
        assert client.request(method, f"/api/recurring/{rid}{path}").status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"cron": "61 * * * *"}, 422, "InvalidDefinition"),
        ({"timezone": "Mars/Olympus"}, 422, "InvalidDefinition"),
        ({"job": "nope"}, 422, "UnknownJob"),
        ({"args": {"a": "one"}}, 422, "InvalidArguments"),
        ({"overlap": "sometimes"}, 422, "InvalidRequest"),
        ({"colour": "red"}, 422, "InvalidRequest"),
        ({"enabled": "yes"}, 422, "InvalidRequest"),
    ],
)
def test_bad_definitions_are_clear_errors_and_store_nothing(
    client: TestClient, change: dict[str, Any], status: int, code: str
) -> None:
    response = client.post("/api/recurring", json={**DAILY, **change})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert client.get("/api/recurring").json()["items"] == []


def test_malformed_json_and_duplicate_names(client: TestClient) -> None:
    malformed = client.post(
        "/api/recurring", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    create(client)
    duplicate = client.post("/api/recurring", json=DAILY)
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "NameTaken")


def test_the_schema_names_the_registered_jobs_a_recurring_job_may_run(
    client: TestClient, app: App
) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/recurring"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]

    assert schema["properties"]["job"]["enum"] == sorted(app.registry)
    assert "job" in schema["required"]
