"""End to end on a real uvicorn server: submit, poll with Retry-After, 303, output, DELETE."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import MANAGE_TOKEN, VIEW_TOKEN
from .support import RELEASED, LiveServer


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=10) as client:
        yield client


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a text/event-stream, as a browser's EventSource reads them."""
    kind, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif line == "" and data:
            yield kind, json.loads(data)
            kind, data = "message", ""


def test_submit_poll_redirect_output_delete(http: httpx.Client, live: LiveServer) -> None:
    submitted = http.post("/api/jobs/report", json={"month": "2026-10", "tenant": 7})
    assert submitted.status_code == 202
    monitor = submitted.headers["location"]
    assert monitor.startswith(f"{live.url}/api/jobs/")

    response = submitted
    deadline = time.monotonic() + 15
    while response.status_code != 303:
        assert response.status_code in (200, 202)
        assert time.monotonic() < deadline
        time.sleep(int(response.headers["retry-after"]))
        response = http.get(monitor)

    output = http.get(response.headers["location"])
    assert output.status_code == 200
    assert output.json() == {"url": "/reports/2026-10/7"}

    assert http.delete(monitor).status_code == 204
    assert http.get(monitor).status_code == 404
    assert http.get(response.headers["location"]).status_code == 404


def test_urls_follow_forwarded_headers_from_a_trusted_proxy(http: httpx.Client) -> None:
    response = http.post(
        "/api/jobs/add",
        json={"a": 1},
        headers={"Host": "jobs.example.com", "X-Forwarded-Proto": "https"},
    )

    assert response.headers["location"].startswith("https://jobs.example.com/api/jobs/")


def test_two_megabyte_body_is_413(http: httpx.Client) -> None:
    response = http.post("/api/jobs/add", content=b'{"a": "' + b"x" * 2_000_000 + b'"}')

    assert response.status_code == 413


def test_job_events_stream_state_progress_and_end_when_finished(http: httpx.Client) -> None:
    job_id = http.post("/api/jobs/blocking", json={"key": "sse"}).json()["id"]
    seen: list[tuple[str, dict[str, Any]]] = []

    with http.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for kind, data in sse_events(stream.iter_lines()):
            seen.append((kind, data))
            if kind == "progress" and data["progress"] == 5:
                RELEASED.add("sse")

    states = [data["state"] for kind, data in seen if kind == "state"]
    assert states[-1] == "completed"
    assert "running" in states
    assert ("progress", {"jobId": job_id, "progress": 5.0, "message": "holding sse"}) in seen


def test_all_events_stream_shows_new_jobs_and_their_logs(http: httpx.Client) -> None:
    viewer = {"Authorization": f"Bearer {VIEW_TOKEN}"}
    with http.stream("GET", "/api/events", headers=viewer) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        job_id = http.post("/api/jobs/report", json={"month": "m", "tenant": 9}).json()["id"]
        kinds, states = set(), set()
        for kind, data in sse_events(lines):
            if data.get("jobId") != job_id:
                continue
            kinds.add(kind)
            states.add(data.get("state"))
            if kind == "log":
                assert data["message"] == "report for tenant 9"
            if "completed" in states and "log" in kinds:
                break

    assert {"state", "log"} <= kinds
