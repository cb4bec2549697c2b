"""The in-process worker tests run on every backend: SQLite, PostgreSQL and memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BACKENDS, memory_url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    if request.param == "memory":
        return memory_url()
    return str(request.getfixturevalue("pg_url"))
