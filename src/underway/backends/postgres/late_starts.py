"""`Backend.count_late_start` on PostgreSQL: a part of PostgresBackend, which gives the pool."""

from __future__ import annotations

from .. import claiming
from .connection import PostgresPool
from .limited_claim import START_EXPIRY
from .tx import Tx

#: A start counted from the database's clock now, as a claim counts it.
COUNT_START = (
    """
INSERT INTO {schema}.rate_starts (key, expires_at)
SELECT %(key)s, to_timestamp("""
    + START_EXPIRY
    + """)
FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) AS t,
     (SELECT %(window)s::float8 AS rate_window_s, %(fixed)s::boolean AS rate_fixed) AS c
"""
)


class PostgresLateStarts:
    """Counts again, from now, the start of a rate-limited job whose code starts late."""

    _pool: PostgresPool

    async def count_late_start(self, key: str, window_s: float, fixed: bool) -> None:
        params = {
            "key": key,
            "window": window_s,
            "fixed": fixed,
            "dispatch": claiming.DISPATCH_S,
            "share": claiming.DISPATCH_SHARE,
        }

        async def count(tx: Tx) -> None:
            await tx.run(COUNT_START, params)

        await self._pool.statement(count)
