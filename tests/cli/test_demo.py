"""`underway demo` runs its examples to the end by itself; its jobs also serve a worker."""

from __future__ import annotations

import time
from pathlib import Path

from .commands import invoke, run

DEMO_LIMIT_S = 30.0


def test_demo_runs_every_example_to_the_end_within_30_seconds(tmp_path: Path) -> None:
    leftover = tmp_path / "underway-demo.db"
    leftover.write_text("a previous run's file, which the demo replaces")

    started = time.monotonic()
    result = run("demo", cwd=tmp_path, timeout=DEMO_LIMIT_S)

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < DEMO_LIMIT_S
    assert "5 completed, 1 failed." in result.stdout
    assert "Try next:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert leftover.read_bytes().startswith(b"SQLite format 3")


def test_demo_jobs_are_an_app_for_the_other_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"

    result = invoke(
        "enqueue",
        "--app",
        "underway.demo:app",
        "--create",
        "resize_image",
        "--args",
        '{"name": "a.png", "width": 8}',
        "--database",
        url,
    )

    assert result.exit_code == 0, result.output
    assert invoke("list", "--name", "resize_image", "--database", url).stdout.count("pending") == 1
