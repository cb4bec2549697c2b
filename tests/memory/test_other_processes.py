"""A memory database lives inside one process: another process handed its URL, and every
command of the CLI, fails at once saying so, instead of working on an empty database of its
own; and a process that exits, even killed, leaves no data behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from underway import App

ROOT = Path(__file__).resolve().parents[2]
THE_REASON = "memory:// databases live inside one process"
THE_FIX = "app.start_worker() or underway.testing.drain), or use sqlite:///file.db"
OPEN_IN_A_CHILD = """
import sys
from underway import App
from underway.errors import DatabaseConfigurationError

try:
    App(sys.argv[1]).list()
except DatabaseConfigurationError as exc:
    print(exc)
    sys.exit(3)
"""
ENQUEUE_AND_EXIT = """
import os
from underway import App

app = App("memory://")

@app.job
def add(a: int) -> int:
    return a + 1

add.enqueue(a=1)
print(os.getpid(), app.runtime.call(app.backend()).path)
"""


KILLED_WITH_JOBS_WAITING = """
import os, signal
from underway import App

app = App("memory://")

@app.job
def add(a: int) -> int:
    return a + 1

add.enqueue_many([{"a": n} for n in range(2000)])
app.start_worker(concurrency=1, poll_interval=60)
print(app.runtime.call(app.backend()).path, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def run_python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("UNDERWAY_DATABASE_URL", None)
    env.pop("UNDERWAY_APP", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_another_process_handed_an_apps_memory_url_cannot_open_it() -> None:
    with App("memory://") as app:
        app.list()

        child = run_python("-c", OPEN_IN_A_CHILD, app.database_url)

    assert child.returncode == 3, child.stdout + child.stderr
    assert f"inside process {os.getpid()}" in child.stdout
    assert THE_REASON in child.stdout
    assert THE_FIX in child.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["worker", "--database", "memory://jobs"],
        ["worker", "--app", "memory_jobs:app"],
        ["list", "--database", "memory://jobs"],
        ["migrate", "--app", "memory_jobs:app"],
    ],
)
def test_a_cli_command_on_a_memory_database_fails_at_once_saying_why(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "memory_jobs.py").write_text('from underway import App\n\napp = App("memory://")\n')

    done = run_python("-m", "underway", *command, cwd=tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert THE_REASON in done.stderr
    assert THE_FIX in done.stderr


def test_a_process_that_exits_without_closing_its_app_leaves_no_files() -> None:
    done = run_python("-c", ENQUEUE_AND_EXIT)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    pid, path = done.stdout.split()
    file = Path(path)
    assert file.parent.name.startswith(f"underway-memory-{pid}-"), "the process's own folder"
    assert file.name.startswith("unnamed-")
    assert not file.parent.exists()


def test_a_killed_process_leaves_no_data_in_its_folder() -> None:
    done = run_python("-c", KILLED_WITH_JOBS_WAITING)

    assert done.returncode == -9, done.stderr
    folder = Path(done.stdout.split()[0]).parent
    try:
        left = [p for p in folder.rglob("*") if p.is_file()]
        assert sum(p.stat().st_size for p in left) == 0, "only empty wake-up markers may stay"
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # exit handlers never ran to remove it
