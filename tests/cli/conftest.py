"""Fixtures for CLI tests: a database per test, apps and workers on it, cleaned up after."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    """A command run in this process configures logging on the runner's stderr, which closes
    when the command returns; a worker logging there later would fail."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def database(tmp_path: Path) -> str:
    """The URL of a fresh, migrated SQLite file."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    app = App(url)
    app.migrate()
    app.close()
    return url


@dataclass(frozen=True)
class AppModule:
    """A user's project: a module in the current directory whose App names its own database."""

    path: str
    database: str
    file: Path


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppModule]:
    """`jobs_<test>:app` importable from the current directory (tmp_path), its database not
    yet created and not the default one."""
    name = f"jobs_{tmp_path.name.replace('-', '_')}"
    file = tmp_path / "data" / "app.db"
    file.parent.mkdir()
    (tmp_path / f"{name}.py").write_text(
        f"from tests.cli.sample_jobs import make_app\n\napp = make_app({f'sqlite:///{file}'!r})\n"
    )
    monkeypatch.chdir(tmp_path)
    yield AppModule(f"{name}:app", f"sqlite:///{file}", file)
    sys.modules.pop(name, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


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
        args = ("worker", "--app", "sample_jobs:app", "--database", database, *FAST_WORKER)
        args += options
        process = start(*args, log=log)
        processes.append(process)
        return process, log

    yield start_one
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
