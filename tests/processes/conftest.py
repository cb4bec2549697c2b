"""Fixtures that start real worker and enqueuer processes on one SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.processes.probe as probe
from tests.waiting import wait_until
from underway import App

ROOT = Path(__file__).resolve().parents[2]


class Cluster:
    """Processes sharing one database and one probe directory; all are killed at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = f"sqlite:///{directory / 'jobs.db'}"
        self.env = {
            **os.environ,
            "UNDERWAY_DATABASE_URL": self.url,
            "PROBE_DIR": str(directory),
            "PYTHONPATH": str(ROOT),
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.app = App(self.url)
        self.app.registry.update(probe.app.registry)  # enqueue the probe jobs by name

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.processes.probe", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
        )
        self.processes.append(process)
        return process

    def start_workers(
        self, count: int, concurrency: int = 4, env: dict[str, str] | None = None
    ) -> list[subprocess.Popen[bytes]]:
        before = {w.id for w in self.app.workers()}
        started = [self.spawn("worker", str(concurrency), env=env) for _ in range(count)]
        pids = {p.pid for p in started}
        wait_until(
            lambda: pids <= {w.pid for w in self.app.workers() if w.id not in before}, timeout=20
        )
        return started

    def release(self, name: str) -> None:
        (self.directory / f"release-{name}").touch()

    def ledger(self) -> list[dict[str, Any]]:
        return _read_lines(self.directory.glob("ledger-*.jsonl"))

    def callers(self) -> list[dict[str, Any]]:
        return _read_lines(self.directory.glob("callers-*.jsonl"))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        self.app.close()


def _read_lines(paths: Any) -> list[dict[str, Any]]:
    """The complete records of JSON-lines files that other processes may be appending to: a
    last line without its newline is still being written, and is left for the next read."""
    return [
        json.loads(line) for path in paths for line in path.read_text().split("\n")[:-1] if line
    ]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    cluster.app.stats()  # create the schema before processes race to do it
    yield cluster
    cluster.stop()
