"""The README's first steps, followed as a newcomer would: the first job, then the shell commands
that run a worker beside it and read what ran from the same database."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from tests.user_environment import without_underway_settings
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
UNDERWAY = [sys.executable, "-m", "underway"]


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```\s*$", README, re.DOTALL | re.MULTILINE)


def first_steps() -> list[list[str]]:
    """The commands of the README's shell block that starts a worker, comments dropped."""
    block = next(b for b in readme_blocks("sh") if "underway worker" in b)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*UNDERWAY, *command[1:]],
        cwd=cwd,
        env=without_underway_settings(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_first_job_then_a_worker_and_the_cli_on_the_same_database(tmp_path: Path) -> None:
    (tmp_path / "jobs.py").write_text(readme_blocks("python")[0])
    first = subprocess.run(
        [sys.executable, "jobs.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "{'url': '/exports/7/2026-10.csv'}"

    worker_line, *others = first_steps()
    assert worker_line[:2] == ["underway", "worker"]
    worker = subprocess.Popen(
        [*UNDERWAY, *worker_line[1:]], cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        for command in others:
            done = run(command, tmp_path)
            assert done.returncode == 0, f"{shlex.join(command)}: {done.stderr}"

        def all_completed() -> bool:
            listing = run(["underway", "list", "--app", "jobs:app", "--json"], tmp_path)
            states = [job["state"] for job in json.loads(listing.stdout)["jobs"]]
            return states == ["completed", "completed"]

        wait_until(all_completed, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=30)
    assert "started on queues default" in errors
    assert "sqlite:///jobs.db" in errors
