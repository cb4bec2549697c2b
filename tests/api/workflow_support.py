"""What the tests of workflows over HTTP share: the jobs they name, an app with a worker, and
calls that start a workflow and wait for its end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.waiting import wait_until
from underway import App, BatchSummary, JobFilter

from .support import RELEASED, build_app

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


def workflow_app(tmp_path: Path) -> Iterator[App]:
    """An app with the workflow jobs and a worker of its own, on a SQLite file."""
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
