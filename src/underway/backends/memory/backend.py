"""The memory backend: the SQLite backend, statements unchanged, on a file in RAM that
belongs to this process and goes when the last backend on it closes; its transactions run in
the thread that asks for them (`SQLiteConnection`'s `inline`)."""

from __future__ import annotations

from ..base import Clock
from ..sqlite import SQLiteBackend
from . import databases


class MemoryBackend(SQLiteBackend):
    """A SQLite database in a RAM-backed file, without fsync (nothing in RAM outlives the
    process anyway). Always created and migrated as it is first opened in its process:
    there is no file a typo could miss, nor an old schema to keep."""

    def __init__(self, url: str, *, clock: Clock) -> None:
        database = databases.parse_memory_url(url)
        databases.refuse_other_process(database)
        self.name = database.name
        path = databases.folder.path_of(database.name)
        super().__init__(f"sqlite:///{path}", clock=clock, synchronous="OFF", inline=True)
        self.url = database.url
        self._in_use = False

    async def open(self) -> None:
        if not self._in_use:
            databases.folder.use(self.name)
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
            databases.folder.release(self.name)
