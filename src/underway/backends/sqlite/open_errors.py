"""Which file a SQLite URL names, why it cannot be opened, and what to do about it.

SQLite says only "unable to open database file" for a missing folder, a folder or file this
user may not write, and a path that is a folder. Those fail the same way on every attempt, so
the path is examined before the first connection, and again when SQLite refuses one, and
each is a `DatabaseConfigurationError` naming the path and the fix. SQLite writes its -wal and
-shm files beside the database, so the folder must be writable even when the file exists.
Permissions are judged with `os.access`, as the kernel would for this process's user.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ...errors import DatabaseConfigurationError, StorageUnavailable

#: SQLite's result codes that a look at the path may explain (SQLITE_NOTADB needs none).
PATH_ERRORS = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM}
#: The files SQLite keeps beside a database in WAL mode.
SIDE_FILES = ("-wal", "-shm")


def sqlite_path(url: str) -> str:
    """The file path of a sqlite:///path URL (sqlite:////abs/path for absolute paths)."""
    if not url.startswith("sqlite:///"):
        raise DatabaseConfigurationError(
            f"SQLite URLs look like sqlite:///path/to/file.db, got {url!r}"
        )
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not path:
        raise DatabaseConfigurationError(f"the SQLite URL {url!r} names no file")
    return path


def check_database_path(path: str, *, create: bool) -> None:
    """Raise DatabaseConfigurationError if SQLite cannot open (or, if `create`, make) `path`."""
    problem = path_problem(path, create=create)
    if problem is not None:
        raise DatabaseConfigurationError(problem)


def path_problem(path: str, *, create: bool) -> str | None:
    """What stops this process from opening the database at `path`, with the fix; or None."""
    file = Path(path)
    folder = file.parent
    if file.is_dir():
        return f"{path} is a folder, not a SQLite database file: fix the path in the URL"
    if not folder.is_dir():
        return (
            f"the folder {folder} of the SQLite database {path} does not exist: "
            f"create it (mkdir -p {folder}) or fix the path in the URL"
        )
    if not file.exists() and not create:
        return (
            f"no database at {path}; run `underway migrate --database sqlite:///{path}` "
            "to create it, or pass --create"
        )
    files = [file, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)]
    if not os.access(folder, os.W_OK | os.X_OK) and not all(f.exists() for f in files):
        doing = "create" if not file.exists() else "open"
        return (
            f"cannot {doing} the SQLite database {path}: no permission to write in its folder "
            f"{folder} (SQLite keeps its -wal and -shm files there); make the folder writable "
            "for this user, or put the database elsewhere"
        )
    for name in files:
        if name.exists() and not os.access(name, os.R_OK | os.W_OK):
            return (
                f"cannot open the SQLite database {path}: no permission to read and write "
                f"{name}; make it writable for this user (chmod u+rw, or chown), or fix the "
                "path in the URL"
            )
    return None


def open_error(path: str, exc: sqlite3.Error, *, create: bool) -> Exception:
    """An error SQLite gave while opening `path` as the error to raise: a problem with the
    path that will not go away, or StorageUnavailable (worth a retry)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_NOTADB:
        return DatabaseConfigurationError(
            f"{path} is not a SQLite database ({exc}): fix the path in the URL"
        )
    if code in PATH_ERRORS:
        problem = path_problem(path, create=create)
        if problem is not None:
            return DatabaseConfigurationError(problem)
    return StorageUnavailable(f"SQLite error on {path}: {exc}")


def is_open_error(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error, met while opening, may have a cause `open_error` can name."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in PATH_ERRORS or code == sqlite3.SQLITE_NOTADB
