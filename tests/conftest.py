"""Fixtures shared by all test packages: apps on fresh databases, fast worker timings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from underway import App, WorkerSettings

#: Sub-second timings so that heartbeats, sweeps and stalls happen quickly in tests.
FAST = {
    "poll_interval": 0.05,
    "heartbeat_interval": 0.2,
    "stall_timeout": 1.0,
    "sweep_interval": 0.1,
    "lease_check_interval": 0.05,
    "flush_interval": 0.05,
    "shutdown_grace": 2.0,
}


def fast_settings(**overrides: object) -> WorkerSettings:
    return WorkerSettings(**{**FAST, **overrides})  # type: ignore[arg-type]


POSTGRES_URL = os.environ.get(
    "UNDERWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgres", "memory"]


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema name unique to this test, dropped (with everything in it) at the end."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}schema={pg_schema}"


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    if request.param == "memory":
        return memory_url()
    return str(request.getfixturevalue("pg_url"))


def memory_url() -> str:
    """A memory database of this test's own, shared by the apps and backends it opens."""
    return f"memory://test-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[[], App]]:
    """Create apps on the test's database; all are closed at the end."""
    apps: list[App] = []

    def make() -> App:
        app = App(database_url)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app: Callable[[], App]) -> App:
    return make_app()
