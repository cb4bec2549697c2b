"""One SQLite connection per memory database, to an in-memory database (no file), shared by
every backend on it in this process; a lock serialises their transactions, which run in the
threads that ask for them. The database goes when the last backend on it closes."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..sqlite.connection import SQLiteConnection, connect


class SharedDatabase:
    """A memory database: its one connection, opened on first use, and the lock its users
    hold for each call."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.users = 0
        self._connection: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        with self.lock:
            if self._connection is None:
                self._connection = connect(":memory:")
            return self._connection

    def close(self) -> None:
        with self.lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class SharedDatabases:
    """The memory databases of this process by name, and how many backends use each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._databases: dict[str, SharedDatabase] = {}

    def use(self, name: str) -> SharedDatabase:
        """The database `name` (new if no backend uses it), with one more user."""
        with self._lock:
            database = self._databases.setdefault(name, SharedDatabase())
            database.users += 1
            return database

    def release(self, name: str) -> bool:
        """One user fewer of the database `name`; the last one closes it (its data goes).
        Whether it was the last."""
        with self._lock:
            database = self._databases.get(name)
            if database is None:
                return False
            database.users -= 1
            if database.users > 0:
                return False
            del self._databases[name]
        database.close()
        return True


class MemoryConnection(SQLiteConnection):
    """`SQLiteConnection` on a shared memory database: calls run inline, under the database's
    lock, on its one connection, which closing this one leaves open for the other users."""

    def __init__(self, path: str) -> None:
        # One connection never finds its database locked: no busy waits.
        super().__init__(path, lock_wait_s=0.0, inline=True)
        self._database: SharedDatabase | None = None

    def attach(self, database: SharedDatabase) -> None:
        """Use `database` from now on (before the first call)."""
        self._database = database
        self._inline = database.lock

    def _open(self) -> sqlite3.Connection:
        if self._database is None:
            raise RuntimeError("a memory connection is used before its backend opened")
        return self._database.connection()

    @contextmanager
    def held(self) -> Iterator[sqlite3.Connection]:
        """The database's connection, for the calling thread alone meanwhile."""
        assert self._inline is not None
        with self._inline:
            yield self._connect()

    async def close(self) -> None:
        self._connection = None  # the database's: its last user closes it
        await super().close()


in_use = SharedDatabases()


def _forget_the_parents_databases() -> None:
    # A forked child must not use the parent's connections: its memory databases start empty.
    global in_use
    in_use = SharedDatabases()


os.register_at_fork(after_in_child=_forget_the_parents_databases)
