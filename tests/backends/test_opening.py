"""Opening a backend, on both dialects: a URL no backend serves is a permanent error, a
backend that must not create its database opens an existing one, and a script that used a
backend and exits leaves nothing pending behind it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends.conftest import make_backend
from underway.backends import open_backend
from underway.errors import DatabaseConfigurationError

ROOT = Path(__file__).resolve().parents[2]
ENQUEUE_AND_EXIT = """
import sys
from underway import App

app = App(sys.argv[1])

@app.job
def add(a: int) -> int:
    return a + 1

print(add.enqueue(a=1).id)
"""


def test_an_unsupported_url_is_a_permanent_error_without_the_password() -> None:
    with pytest.raises(DatabaseConfigurationError) as raised:
        open_backend("mysql://jobs:secret@db.example/jobs")

    assert "unsupported database URL 'mysql://jobs:***@db.example/jobs'" in str(raised.value)
    assert "secret" not in str(raised.value)


async def test_a_backend_without_create_opens_an_existing_database(backend_url: str) -> None:
    created = make_backend(backend_url)
    await created.open()
    await created.close()

    existing = open_backend(backend_url, create=False)
    await existing.open()
    try:
        assert (await existing.stats()).finished_last_minute == 0
    finally:
        await existing.close()


def test_a_script_that_enqueues_and_exits_prints_nothing_on_stderr(backend_url: str) -> None:
    # The app is never closed: its backend's pool must be closed at exit, not have its tasks
    # destroyed while pending ("Task was destroyed but it is pending!").
    done = subprocess.run(
        [sys.executable, "-c", ENQUEUE_AND_EXIT, backend_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    assert done.stderr == ""
