"""Opening a SQLite file: a path that cannot work is a permanent error naming the path and the
fix (never "unable to open database file", retried as if the database were down), and a
worker's storage opens an existing file only, instead of serving a new empty one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from underway import App
from underway.app.runtime import Runtime
from underway.app.storage import Storage
from underway.backends import open_backend
from underway.backends.sqlite.connection import SQLiteConnection
from underway.errors import DatabaseConfigurationError

#: Root may write anywhere; without these capabilities it is held to the permission bits.
DROP_ROOT_OVERRIDES = [
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]
OPEN_AND_REPORT = """
import asyncio, sys
from underway.backends import open_backend

async def main() -> None:
    try:
        await open_backend(sys.argv[1]).open()
    except Exception as exc:
        print(type(exc).__name__, exc)

asyncio.run(main())
"""


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def open_held_to_permissions(url: str) -> str:
    """What opening `url` raises in a child process that the permission bits bind, even when
    the tests run as root (the child then runs without root's overrides, through setpriv)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, permissions bind only without root's overrides (setpriv)")
        prefix = [setpriv, *DROP_ROOT_OVERRIDES]
    done = subprocess.run(
        [*prefix, sys.executable, "-c", OPEN_AND_REPORT, url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def open_error(url: str, *, create: bool = True) -> DatabaseConfigurationError:
    backend = open_backend(url, create=create)
    with pytest.raises(DatabaseConfigurationError) as raised:
        await backend.open()
    await backend.close()
    return raised.value


def test_a_read_only_folder_is_a_permission_error_naming_the_path_and_the_fix(
    read_only_folder: Path,
) -> None:
    path = read_only_folder / "jobs.db"

    reported = open_held_to_permissions(f"sqlite:///{path}")

    assert reported.startswith(
        f"DatabaseConfigurationError cannot create the SQLite database {path}: "
        f"no permission to write in its folder {read_only_folder}"
    )
    assert "make the folder writable for this user" in reported
    assert not path.exists()


async def test_a_missing_folder_is_an_error_naming_the_folder_and_the_fix(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "no-such-folder"

    error = await open_error(f"sqlite:///{folder / 'jobs.db'}")

    assert str(error) == (
        f"the folder {folder} of the SQLite database {folder / 'jobs.db'} does not exist: "
        f"create it (mkdir -p {folder}) or fix the path in the URL"
    )


async def test_a_file_that_is_not_a_database_is_a_permanent_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just some notes\n" * 100)

    error = await open_error(f"sqlite:///{path}")

    assert str(error).startswith(f"{path} is not a SQLite database")


async def test_opening_without_create_leaves_a_missing_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"

    error = await open_error(f"sqlite:///{path}", create=False)

    assert str(error) == (
        f"no database at {path}; run `underway migrate --database sqlite:///{path}` "
        "to create it, or pass --create"
    )
    assert os.listdir(tmp_path) == []


async def test_a_connection_without_create_never_makes_the_file(tmp_path: Path) -> None:
    # Even past the backend's look at the path (a file removed meanwhile), SQLite itself is
    # told to open an existing file only.
    path = tmp_path / "typo.db"
    connection = SQLiteConnection(
        str(path), busy_timeout_s=1.0, synchronous="FULL", lock_wait_s=1.0, create=False
    )

    with pytest.raises(DatabaseConfigurationError, match="no database at"):
        await connection.read(lambda conn: conn.execute("SELECT 1").fetchall())

    await connection.close()
    assert os.listdir(tmp_path) == []


async def test_opening_without_create_opens_an_existing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    created = open_backend(url)
    await created.open()
    await created.close()

    existing = open_backend(url, create=False)
    await existing.open()
    try:
        assert (await existing.stats()).finished_last_minute == 0
    finally:
        await existing.close()


def test_a_storage_without_create_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    runtime = Runtime("test")
    storage = Storage(runtime, f"sqlite:///{path}", migrate=True, clock=None, create=False)
    try:
        with pytest.raises(DatabaseConfigurationError, match="run `underway migrate"):
            runtime.call(storage.backend())
    finally:
        runtime.stop(storage.close())
    assert not path.exists()


def test_an_app_still_creates_a_missing_file_by_default(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    app = App(f"sqlite:///{path}")
    try:
        app.stats()
    finally:
        app.close()
    assert path.is_file()
