"""Reading the history on SQLite: series of counts, totals per queue and job name, one job
name's buckets with their histograms, and the jobs taken back from lost workers. Bucket
starts are epoch seconds; both spans are read, minutes for the last day and hours before."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from ...history_models import HistoryBucket, HistoryPoint, HistoryTotal, WorkerLoss
from ..base import Clock
from ..codecs import epoch_to_datetime
from ..history_rules import SETTLE_S
from . import history
from .connection import SQLiteConnection

#: Counts per state in steps of `step` seconds, optionally of one queue and one job name.
SERIES = """
SELECT at - at % :step AS t, state, sum(runs) AS runs FROM underway_history
WHERE span_s IN (60, 3600) AND at >= :since
  AND (:queue IS NULL OR queue = :queue) AND (:name IS NULL OR name = :name)
GROUP BY t, state ORDER BY t
"""
#: Counts per queue, job name and state between two times.
TOTALS = """
SELECT queue, name, state, sum(runs) AS runs FROM underway_history
WHERE span_s IN (60, 3600) AND at >= :since AND at < :until
GROUP BY queue, name, state
"""
#: One job name's buckets, with their histograms, oldest first.
BUCKETS = """
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits
FROM underway_history WHERE name = :name AND at >= :since
  AND (:queue IS NULL OR queue = :queue)
ORDER BY at
"""
LOSSES = """
SELECT worker_id, hostname, pid, last_seen_at, job_id, name, attempt, became, lost_at
FROM underway_worker_losses WHERE lost_at >= ? ORDER BY lost_at DESC LIMIT ?
"""


def epoch(value: datetime) -> int:
    return int(value.timestamp())


class SQLiteHistory:
    """The history's Backend operations on SQLite: a part of SQLiteBackend, which gives the
    connections and the clock."""

    _db: SQLiteConnection
    _reader: SQLiteConnection
    _clock: Clock

    async def roll_up_history(self, settle_s: float = SETTLE_S) -> int:
        now = self._clock.now()
        if not await self._reader.read(lambda c: history.rollup_due(c, now, settle_s)):
            return 0
        return await self._db.write(lambda c: history.roll_up(c, now, settle_s))

    async def history_series(
        self, since: datetime, step_s: int, queue: str | None = None, name: str | None = None
    ) -> list[HistoryPoint]:
        params = {"since": epoch(since), "step": step_s, "queue": queue, "name": name}
        rows = await self._reader.read(lambda c: c.execute(SERIES, params).fetchall())
        return [HistoryPoint(datetime.fromtimestamp(t, UTC), s, int(n)) for t, s, n in rows]

    async def history_totals(self, since: datetime, until: datetime) -> list[HistoryTotal]:
        params = {"since": epoch(since), "until": epoch(until)}
        rows = await self._reader.read(lambda c: c.execute(TOTALS, params).fetchall())
        return [HistoryTotal(q, n, s, int(runs)) for q, n, s, runs in rows]

    async def history_buckets(
        self, name: str, since: datetime, queue: str | None = None
    ) -> list[HistoryBucket]:
        params = {"name": name, "since": epoch(since), "queue": queue}
        rows = await self._reader.read(lambda c: c.execute(BUCKETS, params).fetchall())
        return [bucket(row) for row in rows]

    async def worker_losses(self, since: datetime, limit: int = 500) -> list[WorkerLoss]:
        params = (since.timestamp(), limit)
        rows = await self._reader.read(lambda c: c.execute(LOSSES, params).fetchall())
        return [
            WorkerLoss(
                worker_id=r["worker_id"],
                hostname=r["hostname"],
                pid=r["pid"],
                last_seen_at=epoch_to_datetime(r["last_seen_at"]),
                job_id=r["job_id"],
                name=r["name"],
                attempt=r["attempt"],
                became=r["became"],
                lost_at=datetime.fromtimestamp(r["lost_at"], UTC),
            )
            for r in rows
        ]


def bucket(row: sqlite3.Row) -> HistoryBucket:
    (span, at, queue, name, state), tally = history.tally_of(row)
    return HistoryBucket(
        span_s=span,
        at=datetime.fromtimestamp(at, UTC),
        queue=queue,
        name=name,
        state=state,
        runs=tally.runs,
        timed=tally.timed,
        duration_sum_s=tally.duration_sum_s,
        wait_sum_s=tally.wait_sum_s,
        durations=tuple(tally.durations),
        waits=tuple(tally.waits),
    )
