"""Bearer tokens and scopes: every endpoint by {no token, jobs:view, jobs:manage}."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from underway import App, ConfigurationError
from underway.api import StreamSettings, create_api, parse_tokens

from .conftest import MANAGE_TOKEN, TOKENS, VIEW_TOKEN

JOB = "{job}"
#: (method, path, scope needed); `{job}` is an existing job's id.
ENDPOINTS = [
    ("POST", "/api/jobs/add", "manage"),
    ("POST", "/api/jobs/report", "manage"),
    ("POST", "/api/jobs/explode", "manage"),
    ("POST", "/api/jobs/blocking", "manage"),
    ("POST", "/api/jobs/single", "manage"),
    ("POST", "/api/jobs/shared", "manage"),
    ("POST", "/api/jobs/in_reports_queue", "manage"),
    ("POST", "/api/jobs/remind", "manage"),
    ("GET", "/api/jobs", "view"),
    ("GET", f"/api/jobs/{JOB}", "view"),
    ("DELETE", f"/api/jobs/{JOB}", "manage"),
    ("GET", f"/api/jobs/{JOB}/status", "view"),
    ("GET", f"/api/jobs/{JOB}/output", "view"),
    ("POST", f"/api/jobs/{JOB}/cancel", "manage"),
    ("POST", f"/api/jobs/{JOB}/retry", "manage"),
    ("POST", "/api/bulk", "manage"),
    ("GET", "/api/bulk/{run_id}", "manage"),
    ("GET", f"/api/jobs/{JOB}/logs", "view"),
    ("GET", f"/api/jobs/{JOB}/blocker", "view"),
    ("GET", f"/api/jobs/{JOB}/events", "view"),
    ("GET", "/api/events", "view"),
    ("GET", "/api/stats", "view"),
    ("GET", "/api/workers", "view"),
    ("GET", "/api/history", "view"),
    ("GET", "/api/alerts", "view"),
    ("GET", "/metrics", "view"),
    ("GET", "/api/recurring", "view"),
    ("POST", "/api/recurring", "manage"),
    ("GET", "/api/recurring/{recurring_id}", "view"),
    ("DELETE", "/api/recurring/{recurring_id}", "manage"),
    ("POST", "/api/recurring/{recurring_id}/toggle", "manage"),
    ("POST", "/api/recurring/{recurring_id}/trigger", "manage"),
    ("GET", "/api/queues", "view"),
    ("GET", "/api/queues/{name}", "view"),
    ("POST", "/api/queues/{name}/pause", "manage"),
    ("POST", "/api/queues/{name}/resume", "manage"),
    ("POST", "/api/workflows", "manage"),
    ("POST", "/api/batches", "manage"),
    ("GET", "/api/workflows", "view"),
    ("GET", "/api/workflows/{workflow_id}", "view"),
    ("GET", "/api/workflows/{workflow_id}/jobs", "view"),
    ("POST", "/api/workflows/{workflow_id}/cancel", "manage"),
    ("POST", "/api/workflows/{workflow_id}/retry", "manage"),
]
BODIES = {
    "/api/jobs/add": {"a": 1},
    "/api/jobs/report": {"month": "m", "tenant": 1},
    "/api/recurring": {"name": "r", "cron": "@daily", "job": "add", "args": {"a": 1}},
    "/api/bulk": {"action": "cancel", "filter": {}, "dry_run": True},
}


@pytest.fixture
def secured(app: App) -> Iterator[TestClient]:
    api = create_api(app, tokens=TOKENS, streams=StreamSettings(poll_s=0.05, max_s=0.2))
    with TestClient(api, follow_redirects=False) as client:
        yield client


@pytest.fixture
def job_id(app: App) -> str:
    return app.enqueue("add", {"a": 1}).id


def call(client: TestClient, method: str, path: str, job_id: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = path.replace(JOB, job_id)
    json = BODIES.get(path, {"key": "k", "message": "m"} if method == "POST" else None)
    if path.startswith("/api/jobs/") and path.count("/") == 3 and method == "POST":
        json = BODIES.get(path, {})
    return client.request(method, url, headers=headers, json=json).status_code


def test_the_matrix_covers_every_documented_operation(secured: TestClient) -> None:
    paths = secured.get("/openapi.json", headers={"Authorization": f"Bearer {VIEW_TOKEN}"})
    paths = paths.json()["paths"]
    documented = {
        (method.upper(), path.replace("{job_id}", JOB))
        for path, operations in paths.items()
        for method in operations
        if path != "/healthz"
    }

    assert documented == {(method, path) for method, path, _ in ENDPOINTS}


def expected_status_problems(
    client: TestClient, job_id: str, token: str | None, allowed: set[str]
) -> list[tuple[str, str, int]]:
    """Endpoints answering wrongly: 401 without a valid token, 403 without the scope."""
    problems = []
    for method, path, scope in ENDPOINTS:
        status = call(client, method, path, job_id, token)
        if token is None or token == "not-a-token":
            ok = status == 401
        elif scope in allowed:
            ok = status not in (401, 403)
        else:
            ok = status == 403
        if not ok:
            problems.append((method, path, status))
    return problems


@pytest.mark.parametrize(
    ("token", "allowed"),
    [
        (None, set()),
        ("not-a-token", set()),
        (VIEW_TOKEN, {"view"}),
        (MANAGE_TOKEN, {"view", "manage"}),
    ],
    ids=["no-token", "unknown-token", "view", "manage"],
)
def test_permission_matrix(
    secured: TestClient, job_id: str, token: str | None, allowed: set[str]
) -> None:
    assert expected_status_problems(secured, job_id, token, allowed) == []


def test_401_asks_for_a_bearer_token(secured: TestClient) -> None:
    response = secured.get("/api/stats")

    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "Unauthenticated"


def test_403_names_the_missing_scope(secured: TestClient) -> None:
    response = secured.post(
        "/api/jobs/add", json={"a": 1}, headers={"Authorization": f"Bearer {VIEW_TOKEN}"}
    )

    assert response.json()["error"]["code"] == "InsufficientScope"
    assert "jobs:manage" in response.json()["error"]["message"]


def test_health_needs_no_token_but_the_openapi_document_needs_view(secured: TestClient) -> None:
    view = {"Authorization": f"Bearer {VIEW_TOKEN}"}

    assert secured.get("/healthz").status_code == 200
    assert secured.get("/openapi.json").status_code == 401
    assert secured.get("/openapi.json", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert secured.get("/openapi.json", headers=view).json()["info"]["title"] == "underway"


def test_the_docs_page_reveals_nothing_without_a_sign_in(secured: TestClient) -> None:
    docs = secured.get("/docs", follow_redirects=True)

    assert docs.url.path == "/dashboard/login"
    assert "/api/jobs/add" not in docs.text
    assert secured.get("/dashboard/api-docs/openapi.json").status_code == 401


def test_rejected_submissions_store_nothing(secured: TestClient, app: App) -> None:
    secured.post("/api/jobs/add", json={"a": 1})
    secured.post("/api/jobs/add", json={"a": 1}, headers={"Authorization": f"Bearer {VIEW_TOKEN}"})

    assert app.list() == []


def test_tokens_come_from_the_environment(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNDERWAY_TOKENS", "env-token:jobs:view")
    with TestClient(create_api(app)) as client:
        allowed = client.get("/api/stats", headers={"Authorization": "Bearer env-token"})
        denied = client.get("/api/stats")

    assert allowed.status_code == 200
    assert denied.status_code == 401


def test_without_tokens_remote_clients_are_refused(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNDERWAY_TOKENS", raising=False)
    with TestClient(create_api(app)) as remote:
        response = remote.get("/api/stats")
        schema = remote.get("/openapi.json")
        health = remote.get("/healthz")
    with TestClient(
        create_api(app), client=("127.0.0.1", 5000), base_url="http://127.0.0.1"
    ) as local:
        allowed = local.get("/api/stats")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "RemoteAccessDenied"
    assert schema.status_code == health.status_code == 403
    assert allowed.status_code == 200


def test_parse_tokens_reads_the_documented_format() -> None:
    tokens = parse_tokens("a:jobs:view, b:jobs:manage,a:jobs:manage")

    assert tokens == {
        "a": frozenset({"jobs:view", "jobs:manage"}),
        "b": frozenset({"jobs:view", "jobs:manage"}),
    }


@pytest.mark.parametrize("text", ["a:jobs:admin", ":jobs:view", "lonely"])
def test_bad_token_specs_are_configuration_errors(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_tokens(text)
