"""The API mounted in a host FastAPI app with `include_in`: every URL it hands out is under the
prefix and leads somewhere, and the host's /openapi.json lists its routes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient
from pydantic import BaseModel

from underway import App, ConfigurationError
from underway.api import create_api, include_in

from .conftest import FAST_STREAMS, MANAGE_TOKEN, TOKENS
from .support import LiveServer

PREFIXES = ["/jobs", "/internal/jobs"]


def host_with_api(app: App, prefix: str, **options: Any) -> FastAPI:
    """A host app with a route of its own and underway's API under `prefix`."""
    host = FastAPI(title="host")

    @host.get("/hello", operation_id="hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    options = {"tokens": TOKENS, "streams": FAST_STREAMS, **options}
    include_in(host, create_api(app, **options), prefix=prefix)
    return host


@pytest.fixture(params=PREFIXES)
def prefix(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def host(app: App, prefix: str) -> Iterator[LiveServer]:
    server = LiveServer(host_with_api(app, prefix)).start()
    yield server
    server.stop()


@pytest.fixture
def http(host: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
    with httpx.Client(base_url=host.url, headers=headers, timeout=10) as client:
        yield client


def poll_until_see_other(http: httpx.Client, monitor: str) -> httpx.Response:
    deadline = time.monotonic() + 15
    response = http.get(monitor)
    while response.status_code != 303:
        assert response.status_code == 200, response.text
        assert time.monotonic() < deadline, "the job did not complete"
        time.sleep(int(response.headers["retry-after"]))
        response = http.get(monitor)
    return response


def test_submit_hands_out_urls_under_the_prefix_that_lead_to_the_output(
    http: httpx.Client, host: LiveServer, prefix: str
) -> None:
    submitted = http.post(f"{prefix}/api/jobs/report", json={"month": "2026-10", "tenant": 7})

    assert submitted.status_code == 202
    job_url = f"{host.url}{prefix}/api/jobs/{submitted.json()['id']}"
    assert submitted.headers["location"] == job_url
    assert submitted.headers["operation-location"] == f"{job_url}/status"
    assert submitted.json()["links"] == {
        "self": job_url,
        "status": f"{job_url}/status",
        "output": f"{job_url}/output",
        "logs": f"{job_url}/logs",
        "events": f"{job_url}/events",
    }

    completed = poll_until_see_other(http, submitted.headers["location"])
    assert completed.headers["location"] == f"{job_url}/output"
    assert http.get(completed.headers["location"]).json() == {"url": "/reports/2026-10/7"}
    status = http.get(submitted.headers["operation-location"]).json()
    assert status["resourceLocation"] == f"{job_url}/output"
    assert http.get(f"{job_url}/logs").json()["items"][0]["message"] == "report for tenant 7"
    with http.stream("GET", f"{job_url}/events") as stream:
        assert stream.status_code == 200
        assert "event: state" in stream.read().decode()


def test_retry_recurring_and_list_urls_are_under_the_prefix(
    http: httpx.Client, host: LiveServer, prefix: str
) -> None:
    api = f"{host.url}{prefix}/api"
    failed = http.post(f"{prefix}/api/jobs/explode", json={"message": "boom"}).json()
    poll = f"{api}/jobs/{failed['id']}/status"
    deadline = time.monotonic() + 15
    while http.get(poll).json()["status"] != "Failed":
        assert time.monotonic() < deadline, "the job did not fail"
        time.sleep(0.05)
    retried = http.post(f"{prefix}/api/jobs/{failed['id']}/retry")
    assert retried.headers["location"] == f"{api}/jobs/{failed['id']}"

    created = http.post(
        f"{prefix}/api/recurring",
        json={"name": "nightly", "cron": "0 3 * * *", "job": "add", "args": {"a": 1}},
    )
    assert created.status_code == 201
    recurring_url = created.headers["location"]
    assert recurring_url == f"{api}/recurring/{created.json()['id']}"
    triggered = http.post(f"{recurring_url}/trigger")
    assert triggered.status_code == 202
    assert triggered.headers["location"].startswith(f"{api}/jobs/")
    assert http.get(recurring_url).json()["lastJob"] == triggered.headers["location"]

    listed = http.get(f"{prefix}/api/jobs", params={"per_page": 1}).json()
    assert listed["nextLink"].startswith(f"{api}/jobs?")
    assert http.get(listed["nextLink"]).json()["page"] == 2


def test_the_host_openapi_lists_the_api_routes_under_the_prefix(
    http: httpx.Client, host: LiveServer, prefix: str
) -> None:
    document = httpx.get(f"{host.url}/openapi.json").json()

    assert "post" in document["paths"][f"{prefix}/api/jobs/report"]
    assert "get" in document["paths"][f"{prefix}/api/jobs/{{job_id}}"]
    assert "get" in document["paths"]["/hello"]
    assert not [path for path in document["paths"] if path.startswith("/api/")]
    assert_references_resolve(document)

    own = http.get(f"{prefix}/openapi.json").json()
    assert own["servers"] == [{"url": prefix}]
    assert "/api/jobs/report" in own["paths"]


def test_the_mounted_api_docs_load_the_document_under_the_prefix(
    http: httpx.Client, host: LiveServer, prefix: str
) -> None:
    assert http.get(f"{prefix}/docs").headers["location"] == f"{prefix}/dashboard/api-docs"
    page = http.get(f"{prefix}/dashboard/api-docs")
    # The docs page needs a dashboard session, which a bearer token is not.
    assert page.status_code == 303
    assert page.headers["location"].startswith(f"{prefix}/dashboard/login?next=")


def test_names_the_host_uses_for_something_else_are_renamed_in_its_document(app: App) -> None:
    host = FastAPI()

    class JobStatus(BaseModel):
        mine: bool

    @host.get("/status", operation_id="get_job", response_model=JobStatus)
    def status() -> JobStatus:
        return JobStatus(mine=True)

    own_bearer = HTTPBearer(description="the host's own")

    @host.get("/secret", operation_id="secret")
    def secret(token: HTTPAuthorizationCredentials = Depends(own_bearer)) -> None:
        return None

    include_in(host, create_api(app, tokens=TOKENS), prefix="/jobs")
    document = host.openapi()

    schemas = document["components"]["schemas"]
    assert set(schemas["JobStatus"]["properties"]) == {"mine"}
    assert "links" in schemas["jobs_JobStatus"]["properties"]
    monitor = document["paths"]["/jobs/api/jobs/{job_id}"]["get"]
    assert monitor["operationId"] == "jobs_get_job"
    assert monitor["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/jobs_JobStatus"
    }
    assert monitor["security"] == [{"jobs_HTTPBearer": []}]
    submit_links = document["paths"]["/jobs/api/jobs/add"]["post"]["responses"]["202"]["links"]
    assert submit_links["GetJob"]["operationId"] == "jobs_get_job"
    assert document["paths"]["/status"]["get"]["operationId"] == "get_job"
    assert document["paths"]["/secret"]["get"]["security"] == [{"HTTPBearer": []}]
    assert_references_resolve(document)
    assert host.openapi() is document


def test_mounted_at_the_root_the_host_routes_answer_first_and_both_are_documented(
    app: App,
) -> None:
    host = host_with_api(app, "", tokens=None, insecure=True, allowed_hosts=["testserver"])

    with TestClient(host, follow_redirects=False) as client:
        assert client.get("/hello").json() == {"hello": "world"}
        submitted = client.post("/api/jobs/add", json={"a": 1})
        document = client.get("/openapi.json").json()

    assert submitted.headers["location"] == f"http://testserver/api/jobs/{submitted.json()['id']}"
    assert {"/hello", "/api/jobs/add", "/api/jobs/{job_id}"} <= set(document["paths"])
    assert_references_resolve(document)


def test_a_prefix_must_be_a_path(app: App) -> None:
    with pytest.raises(ConfigurationError, match="'/jobs'"):
        include_in(FastAPI(), create_api(app, insecure=True), prefix="jobs")


def test_urls_carry_a_proxy_root_path_before_the_mount_prefix(app: App) -> None:
    host = host_with_api(app, "/jobs", tokens=None, insecure=True, allowed_hosts=["testserver"])

    with TestClient(host, root_path="/proxy", follow_redirects=False) as client:
        submitted = client.post("/proxy/jobs/api/jobs/add", json={"a": 1})
        dashboard = client.get("/proxy/jobs/dashboard")

    job_id = submitted.json()["id"]
    assert submitted.headers["location"] == f"http://testserver/proxy/jobs/api/jobs/{job_id}"
    assert 'href="/proxy/jobs/dashboard/static/dashboard.css"' in dashboard.text
    assert "Path=/proxy/jobs/dashboard" in dashboard.headers["set-cookie"]


def assert_references_resolve(document: dict[str, Any]) -> None:
    """Every $ref names a component, every link an operation, every security need a scheme,
    and no two operations share an id."""
    components = document["components"]
    operations = [
        operation
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
    ]
    ids = [operation["operationId"] for operation in operations if "operationId" in operation]
    assert len(ids) == len(set(ids))
    for node in walk(document):
        if isinstance(node.get("$ref"), str):
            _, _, section, name = node["$ref"].split("/")
            assert name in components[section], node["$ref"]
        for link in node.get("links", {}).values():
            if isinstance(link, dict) and "operationId" in link:
                assert link["operationId"] in ids, link
    for operation in operations:
        for need in operation.get("security", []):
            assert set(need) <= set(components["securitySchemes"])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)
