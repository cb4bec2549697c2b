"""`Backend.count_late_start` on SQLite: a part of SQLiteBackend, which gives the writer, the
clock and whether starts get a dispatch margin (none on a test's clock)."""

from __future__ import annotations

from .. import claiming
from ..base import Clock
from .claim import RECORD_START
from .connection import SQLiteConnection


class SQLiteLateStarts:
    """Counts again, from now, the start of a rate-limited job whose code starts late."""

    _db: SQLiteConnection
    _clock: Clock
    _dispatch_s: float

    async def count_late_start(self, key: str, window_s: float, fixed: bool) -> None:
        if not self._dispatch_s:
            return  # a test's clock stands still while jobs are handed out: never late
        now = self._clock.now()
        expires_at = claiming.start_expiry(now, window_s, fixed, self._dispatch_s)
        await self._db.write(lambda c: c.execute(RECORD_START, (key, expires_at)))
