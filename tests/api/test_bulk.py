"""POST /api/bulk: retry, cancel or delete every job a filter matches, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App
from underway.api import create_api

from .conftest import FAST_STREAMS, MANAGE_TOKEN, TOKENS, VIEW_TOKEN
from .support import RELEASED, build_app

JSON = {"Content-Type": "application/json"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bulk_app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[App]:
    """An app without a worker, so that jobs stay in the states the test gives them."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    app = build_app(url)
    yield app
    RELEASED.clear()
    app.close()


@pytest.fixture
def bulk_client(bulk_app: App) -> Iterator[TestClient]:
    api = create_api(bulk_app, tokens=TOKENS, allowed_hosts=["testserver"], streams=FAST_STREAMS)
    auth = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
    with TestClient(api, headers=auth) as client:
        yield client


def finished_run(client: TestClient, location: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(location).json()
        return body if body["state"] != "running" else None

    return wait_until(finished, timeout=10)


def test_a_dry_run_counts_and_a_run_cancels_every_match_in_batches(
    bulk_app: App, bulk_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    reports = [bulk_app.enqueue("in_reports_queue", {"n": n}).id for n in range(130)]
    other = bulk_app.enqueue("add", {"a": 1}).id
    body = {"action": "cancel", "filter": {"queue": "reports", "state": ["pending"]}}

    dry = bulk_client.post("/api/bulk", json={**body, "dry_run": True})
    assert dry.status_code == 200
    assert dry.json() == {"matched": 130, "filter": "state=pending queue='reports'"}

    with caplog.at_level(logging.INFO, logger="underway.bulk"):
        started = bulk_client.post("/api/bulk", json=body)
        assert started.status_code == 202
        done = finished_run(bulk_client, started.headers["Location"])
    assert (done["state"], done["matched"], done["done"], done["skipped"]) == (
        "finished",
        130,
        130,
        0,
    )
    assert {bulk_app.get(job_id).state.value for job_id in reports} == {"cancelled"}
    assert bulk_app.get(other).state.value == "pending"
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "bulk cancel" in logged
    assert "started by API token #" in logged
    assert "state=pending queue='reports'" in logged
    assert ": 130 matching jobs" in logged
    assert "130 changed" in logged
    assert MANAGE_TOKEN not in logged


def test_a_run_retries_and_deletes_what_a_search_matches(
    bulk_app: App, bulk_client: TestClient
) -> None:
    words = ["walrus", "zebra", "okapi"]
    ids = [bulk_app.enqueue("explode", {"message": word}).id for word in words]
    for job_id in ids:
        bulk_app.cancel(job_id)
    keep = bulk_app.enqueue("explode", {"message": "zebra too"}).id
    search = {"action": "retry", "filter": {"search": "ZEBRA", "state": ["cancelled"]}}

    retried = bulk_client.post("/api/bulk", json=search)
    assert finished_run(bulk_client, retried.headers["Location"])["done"] == 1
    assert bulk_app.get(ids[1]).state.value == "pending"

    everything_cancelled = {"action": "delete", "filter": {"state": ["cancelled"]}}
    deleted = bulk_client.post("/api/bulk", json=everything_cancelled)
    assert finished_run(bulk_client, deleted.headers["Location"])["done"] == 2
    remaining = {job.id for job in bulk_app.list(limit=10)}
    assert remaining == {ids[1], keep}


@pytest.mark.parametrize(
    ("body", "status", "target"),
    [
        ({"action": "purge", "filter": {}}, 422, "action"),
        ({"action": "retry"}, 422, "filter"),
        ({"action": "retry", "filter": {"state": ["lost"]}}, 422, "filter.state.0"),
        ({"action": "retry", "filter": {"colour": "red"}}, 422, "filter.colour"),
        ({"action": "retry", "filter": {"name": ""}}, 422, "filter.name"),
        ({"action": "retry", "filter": {}, "dry_run": "yes"}, 422, "dry_run"),
    ],
)
def test_bad_bodies_are_refused_with_the_field_that_is_wrong(
    bulk_client: TestClient, body: dict[str, Any], status: int, target: str
) -> None:
    answer = bulk_client.post("/api/bulk", json=body)
    assert answer.status_code == status
    assert [d["target"] for d in answer.json()["error"]["details"]] == [target]


def test_it_needs_manage_json_and_the_same_site(bulk_client: TestClient) -> None:
    body = '{"action": "cancel", "filter": {}}'
    viewer = {"Authorization": f"Bearer {VIEW_TOKEN}", **JSON}
    assert bulk_client.post("/api/bulk", content=body, headers=viewer).status_code == 403
    assert (
        bulk_client.post("/api/bulk", content=body, headers={"Authorization": ""}).status_code
        == 401
    )
    plain = {"Content-Type": "text/plain"}
    assert bulk_client.post("/api/bulk", content=body, headers=plain).status_code == 415
    assert bulk_client.post("/api/bulk", content=body.encode()).status_code == 415
    cross = {"Sec-Fetch-Site": "cross-site", **JSON}
    assert bulk_client.post("/api/bulk", content=body, headers=cross).status_code == 403
    assert bulk_client.post("/api/bulk", content="{", headers=JSON).status_code == 400
    assert bulk_client.get("/api/bulk/nope").status_code == 404
