"""Reading the history on PostgreSQL: series of counts, totals per queue and job name, one job
name's buckets with their histograms, and the jobs taken back from lost workers. Bucket
starts are epoch seconds; both spans are read, minutes for the last day and hours before."""

from __future__ import annotations

from datetime import UTC, datetime

from ...history_models import HistoryBucket, HistoryPoint, HistoryTotal, WorkerLoss
from ..history_rules import SETTLE_S
from . import history
from .connection import PostgresPool
from .tx import Row
from .values import NUL

#: Counts per state in steps of `step` seconds, optionally of one queue and one job name.
SERIES = """
SELECT at - at %% %(step)s AS t, state, sum(runs) AS runs FROM {schema}.history
WHERE span_s IN (60, 3600) AND at >= %(since)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
  AND (%(name)s::text IS NULL OR name = %(name)s)
GROUP BY t, state ORDER BY t
"""
#: Counts per queue, job name and state between two times.
TOTALS = """
SELECT queue, name, state, sum(runs) AS runs FROM {schema}.history
WHERE span_s IN (60, 3600) AND at >= %(since)s AND at < %(until)s
GROUP BY queue, name, state
"""
#: One job name's buckets, with their histograms, oldest first.
BUCKETS = """
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits
FROM {schema}.history WHERE name = %(name)s AND at >= %(since)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
ORDER BY at
"""
LOSSES = """
SELECT worker_id, hostname, pid, last_seen_at, job_id, name, attempt, became, lost_at
FROM {schema}.worker_losses WHERE lost_at >= %s ORDER BY lost_at DESC LIMIT %s
"""


def epoch(value: datetime) -> int:
    return int(value.timestamp())


def no_nul(value: str | None) -> str | None:
    """A filter PostgreSQL can take (text holds no NUL; nothing stored has one)."""
    return None if value is None else value.replace(NUL, "")


class PostgresHistory:
    """The history's Backend operations on PostgreSQL: a part of PostgresBackend, which gives
    the pool."""

    _pool: PostgresPool

    async def roll_up_history(self, settle_s: float = SETTLE_S) -> int:
        return await self._pool.transaction(lambda tx: history.roll_up(tx, settle_s))

    async def history_series(
        self, since: datetime, step_s: int, queue: str | None = None, name: str | None = None
    ) -> list[HistoryPoint]:
        params = {
            "since": epoch(since),
            "step": step_s,
            "queue": no_nul(queue),
            "name": no_nul(name),
        }
        rows = await self._pool.transaction(lambda tx: tx.rows(SERIES, params))
        return [
            HistoryPoint(datetime.fromtimestamp(r["t"], UTC), r["state"], int(r["runs"]))
            for r in rows
        ]

    async def history_totals(self, since: datetime, until: datetime) -> list[HistoryTotal]:
        params = {"since": epoch(since), "until": epoch(until)}
        rows = await self._pool.transaction(lambda tx: tx.rows(TOTALS, params))
        return [HistoryTotal(r["queue"], r["name"], r["state"], int(r["runs"])) for r in rows]

    async def history_buckets(
        self, name: str, since: datetime, queue: str | None = None
    ) -> list[HistoryBucket]:
        params = {"name": no_nul(name), "since": epoch(since), "queue": no_nul(queue)}
        rows = await self._pool.transaction(lambda tx: tx.rows(BUCKETS, params))
        return [bucket(row) for row in rows]

    async def worker_losses(self, since: datetime, limit: int = 500) -> list[WorkerLoss]:
        rows = await self._pool.transaction(lambda tx: tx.rows(LOSSES, (since, limit)))
        return [
            WorkerLoss(
                worker_id=r["worker_id"],
                hostname=r["hostname"],
                pid=r["pid"],
                last_seen_at=r["last_seen_at"],
                job_id=r["job_id"],
                name=r["name"],
                attempt=r["attempt"],
                became=r["became"],
                lost_at=r["lost_at"],
            )
            for r in rows
        ]


def bucket(row: Row) -> HistoryBucket:
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
