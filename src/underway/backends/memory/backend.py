"""The memory backend: the SQLite backend, statements unchanged, on an in-memory SQLite
database that belongs to this process and goes when the last backend on it closes; every
backend on it shares its one connection, and its transactions run in the threads that ask
for them (`shared.MemoryConnection`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from ..base import Clock
from ..sqlite import SQLiteBackend
from . import databases, shared


class MemoryBackend(SQLiteBackend):
    """A SQLite database in memory, with no file (nothing in RAM outlives the process
    anyway). Always created and migrated as it is first opened in its process: there is no
    file a typo could miss, nor an old schema to keep. Its folder holds only the wake-ups
    of its workers."""

    def __init__(self, url: str, *, clock: Clock) -> None:
        database = databases.parse_memory_url(url)
        databases.refuse_other_process(database)
        self.name = database.name
        path = databases.folder.path_of(database.name)
        self._shared = shared.MemoryConnection(str(path))
        super().__init__(f"sqlite:///{path}", clock=clock, connection=self._shared)
        self.url = database.url
        self._in_use = False

    async def open(self) -> None:
        if not self._in_use:
            self._shared.attach(shared.in_use.use(self.name))
            self._in_use = True
        try:
            await super().open()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await super().close()
        if self._in_use:
            self._in_use = False
            if shared.in_use.release(self.name):
                databases.folder.forget(self.name)

    @contextmanager
    def raw_connection(self) -> Iterator[sqlite3.Connection]:
        """The database's one connection, which no other thread uses meanwhile: to read or
        write its rows directly (tests). Statements outside a transaction commit at once."""
        with self._shared.held() as conn:
            yield conn
