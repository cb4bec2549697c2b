"""SQLite on a full disk (docs/reliability.md, scenario 17): clear errors, nothing corrupted,
then recovery."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import FaultRun, check, report, violations_of
from tests.waiting import wait_until
from underway import StorageUnavailable


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (the suite runs as root, as CI does); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"scenario 17 needs to mount a small tmpfs (run as root): {done.stderr}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_sqlite_full_fails_clearly_and_recovers(tmp_path: Path, tiny_disk: Path) -> None:
    run = FaultRun(
        tmp_path, "sqlite_full_fails_clearly_and_recovers", f"sqlite:///{tiny_disk / 'jobs.db'}"
    )
    run.app.stats()
    try:
        run.start_worker(concurrency=2)
        payload = "x" * 2000
        refusals: list[str] = []
        for n in range(2000):
            try:
                run.enqueue("probe", key=f"{n}-{payload}", duration_ms=0)
            except StorageUnavailable as exc:
                refusals.append(str(exc))
                if len(refusals) >= 3:
                    break
        assert len(refusals) >= 3, "the disk never filled up"
        assert all("database or disk is full" in message for message in refusals)
        subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_disk)], check=True)
        time.sleep(0.5)  # nothing to wait for: the limit is simply raised
        for n in range(20):
            run.enqueue("probe", key=f"after-{n}", duration_ms=0)
        wait_until(run.acked_finished, timeout=60)
        integrity = (
            sqlite3.connect(tiny_disk / "jobs.db").execute("PRAGMA integrity_check").fetchone()[0]
        )
        figures = check(run)
        figures.worker_exits = sum(1 for p in run.workers if p.poll() is not None)
        error_lines = (run.directory / "worker-1.log").read_text().count(" ERROR ")
        figures.notes.update(
            refused_enqueues=len(refusals), integrity=integrity, worker_error_log_lines=error_lines
        )
        report(figures, violations_of(figures, recovery=False))
        assert integrity == "ok"
        assert figures.worker_exits == 0
        assert not violations_of(figures, recovery=False)
    finally:
        run.stop()
