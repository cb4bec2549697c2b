"""A sqlite3 connection confined to one thread; callers run whole transactions on it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import quote

from ...errors import StorageUnavailable
from ...faults import partition_check
from .open_errors import is_open_error, open_error

T = TypeVar("T")
BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


class SQLiteConnection:
    """Runs functions against one connection in its own thread, so the event loop never blocks.

    `inline`: runs them in the calling thread instead, one at a time (a lock serialises
    callers of other threads), for a database in RAM, whose transactions wait for no disk:
    the hop to a thread of its own and back then cost more than the transaction."""

    def __init__(
        self,
        path: str,
        *,
        lock_wait_s: float,
        busy_timeout_s: float = 5.0,
        synchronous: str = "FULL",
        create: bool = True,
        inline: bool = False,
    ):
        self._path = path
        #: Whether connecting may create the file; if not, a missing file is an error.
        self._create = create
        self._busy_timeout_s = busy_timeout_s
        self._synchronous = synchronous
        self._lock_wait_s = lock_wait_s
        #: Held while an inline connection runs a call (None: calls go to `_executor`).
        self._inline = threading.RLock() if inline else None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="underway-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._closed = threading.Event()
        cut_off = partition_check()
        if cut_off is not None:
            self._cut_off = cut_off
            self._transaction_once = self._transaction_unless_cut_off  # type: ignore[method-assign]

    def _transaction_unless_cut_off(self, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
        """A transaction that fails while the fault suite cuts this process off (faults.py)."""
        if self._cut_off():
            raise StorageUnavailable(f"SQLite database {self._path} cut off (fault injection)")
        return SQLiteConnection._transaction_once(self, fn, begin)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            try:
                self._connection = self._open()
            except sqlite3.Error as exc:
                # A missing folder, a read-only file or folder, not a database: say which.
                if is_open_error(exc):
                    raise open_error(self._path, exc, create=self._create) from exc
                raise
        return self._connection

    def _open(self) -> sqlite3.Connection:
        # mode=rw opens an existing file only: a typo in the path must not make a new one.
        target = self._path if self._create else f"file:{quote(self._path)}?mode=rw"
        conn = connect(target, timeout=self._busy_timeout_s, uri=not self._create)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        return conn

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a read transaction (one consistent snapshot)."""
        return await self._submit(lambda: self._transaction(fn, "BEGIN"))

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a write transaction taken up front, so it never fails on upgrade."""
        return await self._submit(lambda: self._transaction(fn, "BEGIN IMMEDIATE"))

    def write_blocking(
        self, fn: Callable[[sqlite3.Connection], T], committed: Callable[[T], None]
    ) -> T:
        """`write`, waited for in the calling thread (not the event loop's, nor this
        connection's): the transaction goes straight to the connection's thread, which calls
        `committed` with the result as soon as it has committed."""
        if self._closed.is_set():
            raise StorageUnavailable("the SQLite backend is closed")

        def write_then_tell() -> T:
            result = self._transaction(fn, "BEGIN IMMEDIATE")
            committed(result)
            return result

        if self._inline is not None:
            with self._inline:
                return write_then_tell()
        try:
            future = self._executor.submit(write_then_tell)
        except RuntimeError as exc:  # the executor shut down as we submitted
            raise StorageUnavailable("the SQLite backend is closed") from exc
        # Short waits keep the calling thread responsive to signals (Ctrl-C, SIGTERM).
        while not concurrent.futures.wait([future], timeout=0.25).done:
            pass
        return future.result()

    async def script(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` with the raw connection (migrations manage their own transactions)."""
        return await self._submit(lambda: self._retrying(lambda: fn(self._connect())))

    async def _submit(self, call: Callable[[], T]) -> T:
        if self._closed.is_set():
            raise StorageUnavailable("the SQLite backend is closed")
        if self._inline is not None:
            with self._inline:
                return call()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, call)

    def _transaction(self, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
        return self._retrying(lambda: self._transaction_once(fn, begin))

    def _retrying(self, call: Callable[[], T]) -> T:
        """Retry while the file is busy; even with busy_timeout SQLite can fail at once (e.g.
        two connections switching a new file to WAL), so waiting is done here too."""
        deadline = time.monotonic() + self._lock_wait_s
        while True:
            try:
                return call()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise StorageUnavailable(f"SQLite error on {self._path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise StorageUnavailable(
                        f"SQLite database {self._path} stayed locked for {self._lock_wait_s:g} s"
                    ) from exc
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.IntegrityError):
                    raise
                raise StorageUnavailable(f"SQLite error on {self._path}: {exc}") from exc

    def _transaction_once(self, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
        conn = self._connect()
        conn.execute(begin)
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    async def close(self) -> None:
        if self._closed.is_set():
            return

        def shut() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        if self._inline is not None:
            with self._inline:
                shut()
        else:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._executor, shut)
            except RuntimeError:  # the interpreter is exiting: its executors take no more work
                shut()
        self._closed.set()
        self._executor.shutdown(wait=False)


def connect(target: str, *, timeout: float = 5.0, uri: bool = False) -> sqlite3.Connection:
    """A connection as the backend's statements expect it: transactions begun by them, rows
    read by column name, foreign keys enforced; usable from any thread its owner allows."""
    conn = sqlite3.connect(
        target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=uri
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return any(message in text for message in BUSY_MESSAGES)
