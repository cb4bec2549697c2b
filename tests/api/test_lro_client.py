"""A generic long-running-operation client, written only from the Microsoft REST API guidelines.

It knows nothing of underway: POST, follow `Operation-Location`, wait `Retry-After` between
polls, stop on a terminal `status`, then GET `resourceLocation` for the result.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.waiting import wait_until

from .conftest import MANAGE_TOKEN
from .support import LiveServer

TERMINAL = {"Succeeded", "Failed", "Canceled"}


@dataclass
class Operation:
    status: str
    error: dict[str, Any] | None
    result: Any = None


class LroPoller:
    """Polls one operation to its end."""

    def __init__(self, http: httpx.Client, accepted: httpx.Response) -> None:
        assert accepted.status_code in (201, 202)
        self.http = http
        self.url = accepted.headers["Operation-Location"]
        self.retry_after = int(accepted.headers.get("Retry-After", "1"))

    def result(self, timeout: float = 20.0) -> Operation:
        deadline = time.monotonic() + timeout
        while True:
            time.sleep(self.retry_after)
            response = self.http.get(self.url)
            assert response.status_code == 200
            body = response.json()
            if body["status"] in TERMINAL:
                return self._finish(body)
            self.retry_after = int(response.headers.get("Retry-After", "1"))
            assert time.monotonic() < deadline, "operation did not finish in time"

    def _finish(self, body: dict[str, Any]) -> Operation:
        operation = Operation(status=body["status"], error=body.get("error"))
        if body["status"] == "Succeeded" and body.get("resourceLocation"):
            operation.result = self.http.get(body["resourceLocation"]).json()
        return operation


def begin(http: httpx.Client, url: str, body: dict[str, Any]) -> LroPoller:
    return LroPoller(http, http.post(url, json=body))


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=10) as client:
        yield client


def test_a_generic_client_reaches_the_result_of_a_succeeded_job(http: httpx.Client) -> None:
    operation = begin(http, "/api/jobs/add", {"a": 20, "b": 22}).result()

    assert operation.status == "Succeeded"
    assert operation.error is None
    assert operation.result == 42


def test_a_generic_client_sees_a_failed_job_with_its_error(http: httpx.Client) -> None:
    operation = begin(http, "/api/jobs/explode", {"message": "no disk"}).result()

    assert operation.status == "Failed"
    assert operation.error == {"code": "ValueError", "message": "no disk"}
    assert operation.result is None


def test_a_generic_client_sees_a_cancelled_job(http: httpx.Client) -> None:
    poller = begin(http, "/api/jobs/blocking", {"key": "forever"})
    job = poller.url.removesuffix("/status")
    wait_until(lambda: http.get(job).json()["state"] == "running")
    assert http.post(f"{job}/cancel").status_code == 200

    operation = poller.result()

    assert operation.status == "Canceled"
    assert operation.error is not None
    assert operation.result is None
