"""Fixtures for CLI tests: a database per test, apps and workers on it, cleaned up after."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from underway import App, WorkerSettings

from .commands import FAST_WORKER, start
from .sample_jobs import make_app

FAST = WorkerSettings(
    poll_interval=0.05,
    heartbeat_interval=0.2,
    stall_timeout=2.0,
    sweep_interval=0.2,
    lease_check_interval=0.05,
    flush_interval=0.05,
    shutdown_grace=1.0,
)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """The URL of a fresh, migrated SQLite file."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = App(url)
    app.migrate()
    app.close()
    return url


@pytest.fixture
def app(database: str) -> Iterator[App]:
    """The sample jobs on the test's database, for enqueueing and reading from the test."""
    app = make_app(database)
    yield app
    app.close()


@pytest.fixture
def worker(database: str) -> Iterator[App]:
    """An in-process worker for the sample jobs on the test's database."""
    worker_app = make_app(database)
    worker_app.start_worker(FAST)
    yield worker_app
    worker_app.close()


@pytest.fixture
def start_worker(
    database: str, tmp_path: Path
) -> Iterator[Callable[..., tuple[subprocess.Popen[Any], Path]]]:
    """Start `underway worker sample_jobs:app` processes; any still running are killed after."""
    processes: list[subprocess.Popen[Any]] = []

    def start_one(*options: str) -> tuple[subprocess.Popen[Any], Path]:
        log = tmp_path / f"worker-{len(processes)}.log"
        args = ("worker", "sample_jobs:app", "--database", database, *FAST_WORKER, *options)
        process = start(*args, log=log)
        processes.append(process)
        return process, log

    yield start_one
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
