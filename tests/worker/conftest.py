"""The in-process worker tests run on every backend: SQLite, PostgreSQL and memory; those
that move time with a test clock run on SQLite and memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, memory_url
from underway import App
from underway.testing import Clock

#: Where the test clock starts.
START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    if request.param == "memory":
        return memory_url()
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture(params=["sqlite", "memory"])
def clocked_app(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[App]:
    """An app whose rows follow the test's clock (SQLite and memory; PostgreSQL keeps its
    server's time, so the tests that need the clock run on the other two)."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else memory_url()
    app = App(url, clock=clock)
    yield app
    app.close()
