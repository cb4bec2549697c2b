"""Memory URLs and the folder of a process's memory databases.

`memory://NAME` names a database shared by the apps of this process; `memory://` is a new one
of its own. An app pins its URL once (`pinned_url`) to `memory://NAME?pid=N`, so that all its
backends (its heartbeats' too) open the same database, and another process handed the URL is
refused at once instead of opening an empty database of its own. The data is in memory
(`shared`); the folder, one per process, named after it, under /dev/shm where it exists (else
the temp folder), holds each database's wake-up markers, which go when the last backend on it
closes; the folder goes when the process exits.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from ...errors import DatabaseConfigurationError

#: What to do instead of handing a memory database to another process.
USE_ONE_PROCESS = (
    "run the worker in the same process (app.start_worker() or underway.testing.drain), "
    "or use sqlite:///file.db"
)
RAM_FOLDER = Path("/dev/shm")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
PINNED_PROCESS = re.compile(r"pid=([0-9]+)")
#: Beside the path that names a database: the folder of its wake-up markers.
WAKE_FOLDER = ".wake"


def is_memory_url(url: str) -> bool:
    return url.startswith("memory:")


@dataclass(frozen=True, slots=True)
class MemoryDatabase:
    """One memory database: its name, and the process it lives in."""

    name: str
    pid: int

    @property
    def url(self) -> str:
        return f"memory://{self.name}?pid={self.pid}"


def parse_memory_url(url: str) -> MemoryDatabase:
    """The database a memory URL names; `memory://` is a new one, of this process unless the
    URL was pinned in another."""
    name, _, query = url.removeprefix("memory://").partition("?")
    if not url.startswith("memory://") or "/" in name or "#" in url:
        raise DatabaseConfigurationError(
            f"memory URLs look like memory:// (a new database) or memory://name (one this "
            f"process shares by name), got {url!r}"
        )
    if name and not NAME.fullmatch(name):
        raise DatabaseConfigurationError(
            f"the memory database name {name!r} may hold only letters, digits, '.', '_' and "
            "'-', and must start with a letter or digit"
        )
    pinned = PINNED_PROCESS.fullmatch(query)
    if query and pinned is None:
        raise DatabaseConfigurationError(
            f"a memory URL takes no options but the pid its app pinned, got {url!r}"
        )
    pid = int(pinned.group(1)) if pinned else os.getpid()
    return MemoryDatabase(name or f"unnamed-{uuid.uuid4().hex[:16]}", pid)


def pinned_url(url: str) -> str:
    """The URL as given, except that a memory URL names its database and its process."""
    return parse_memory_url(url).url if is_memory_url(url) else url


def refuse_other_process(database: MemoryDatabase) -> None:
    """Raise unless `database` lives in this process: another's cannot be seen from here."""
    if database.pid != os.getpid():
        raise DatabaseConfigurationError(
            f"{database.url} is a database inside process {database.pid}, and this is process "
            f"{os.getpid()}: memory:// databases live inside one process, and another cannot "
            f"see them; {USE_ONE_PROCESS}"
        )


class ProcessFolder:
    """This process's folder, beside whose paths its memory databases keep their wake-ups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folder: Path | None = None

    def path_of(self, name: str) -> Path:
        """The path that names the database `name` in the folder (made on first use): its
        wake-ups are beside it. No file is made there."""
        with self._lock:
            if self._folder is None:
                self._folder = Path(
                    tempfile.mkdtemp(prefix=f"underway-memory-{os.getpid()}-", dir=_ram_folder())
                )
            return self._folder / f"{name}.db"

    def forget(self, name: str) -> None:
        """Remove the wake-up markers of the database `name` (its last backend closed)."""
        with self._lock:
            if self._folder is not None:
                shutil.rmtree(f"{self._folder / name}.db{WAKE_FOLDER}", ignore_errors=True)

    def remove(self) -> None:
        """Remove the folder and everything in it (the process is exiting)."""
        with self._lock:
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
                self._folder = None


def _ram_folder() -> str | None:
    """/dev/shm if this user may write there, else None: the temp folder."""
    if RAM_FOLDER.is_dir() and os.access(RAM_FOLDER, os.W_OK | os.X_OK):
        return str(RAM_FOLDER)
    return None


folder = ProcessFolder()


def _forget_the_parents_folder() -> None:
    # A forked child has a folder of its own; the parent's stays the parent's to remove.
    global folder
    folder = ProcessFolder()


os.register_at_fork(after_in_child=_forget_the_parents_folder)
# Registered as the backends are imported, before the app's storage registers its own close
# at exit, so that it runs after those backends have closed.
atexit.register(lambda: folder.remove())
