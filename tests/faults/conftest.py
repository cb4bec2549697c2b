"""Fixtures of the fault suite: a FaultRun per test, stopped (and its processes killed) after."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import FaultRun


def _started(tmp_path: Path, request: pytest.FixtureRequest, url: str | None) -> FaultRun:
    scenario = request.node.originalname.removeprefix("test_")
    fault_run = FaultRun(tmp_path, scenario, url)
    fault_run.app.stats()  # create the schema before processes race to
    return fault_run


@pytest.fixture(params=["sqlite", "postgres"])
def run(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FaultRun]:
    """A fault run on each backend (PostgreSQL: a fresh schema on the shared server)."""
    url = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    fault_run = _started(tmp_path, request, url)
    yield fault_run
    fault_run.stop()


@pytest.fixture
def sqlite_run(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FaultRun]:
    fault_run = _started(tmp_path, request, None)
    yield fault_run
    fault_run.stop()


@pytest.fixture
def seed() -> int:
    value = random.randrange(1_000_000)
    print(f"\nseed={value}")
    return value
