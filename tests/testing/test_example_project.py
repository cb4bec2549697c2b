"""examples/shop: a project's own tests, written with underway.testing, pass under pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.user_environment import user_environment

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"


def test_the_example_projects_tests_pass() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=SHOP,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout
    assert not (SHOP / "shop.db").exists(), "the tests ran on memory://, not the app's file"
