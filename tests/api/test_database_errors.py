"""A database URL that cannot work answers 500 with the reason and the fix: not the 503 and
Retry-After of an outage, which would have clients retry for ever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from underway import App
from underway.api import create_api


@pytest.fixture
def misconfigured(tmp_path: Path) -> Iterator[TestClient]:
    app = App(f"sqlite:///{tmp_path / 'no-such-folder' / 'jobs.db'}")
    api = create_api(app, insecure=True, allowed_hosts=["testserver"])
    with TestClient(api) as client:
        yield client
    app.close()


def test_a_misconfigured_database_is_a_500_with_the_fix(
    misconfigured: TestClient, tmp_path: Path
) -> None:
    answer = misconfigured.get("/api/stats")

    assert answer.status_code == 500
    assert "Retry-After" not in answer.headers
    error = answer.json()["error"]
    assert error["code"] == "DatabaseMisconfigured"
    assert f"the folder {tmp_path / 'no-such-folder'}" in error["message"]
    assert "mkdir -p" in error["message"]
