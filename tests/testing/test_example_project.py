"""examples/shop: a project's own tests, written with underway.testing, pass under pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"


def test_the_example_projects_tests_pass() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=SHOP,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout
    assert not (SHOP / "shop.db").exists(), "the tests ran on memory://, not the app's file"
