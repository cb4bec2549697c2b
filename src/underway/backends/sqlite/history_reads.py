"""Reading the history on SQLite: series of counts, totals per queue and job name, and one
job name's buckets with their histograms, each with the jobs the rollup has not folded yet;
the jobs taken back from lost workers; the waiting jobs of each queue (for the alerts).
Bucket starts are epoch seconds; a read adds up minutes for steps under an hour and ranges
within a day, hours otherwise (history_rules.span_for_step, totals_range)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from ...history_models import HistoryBucket, HistoryPoint, HistoryTotal, WorkerLoss
from ...queue_models import QueueInfo
from ..base import Clock
from ..codecs import epoch_to_datetime
from ..history_rules import (
    SETTLE_S,
    bucket_bound,
    bucket_of,
    fold,
    span_for_step,
    totals_range,
)
from ..rows import queue_infos_from_rows
from . import history, queues
from .connection import SQLiteConnection

#: Counts per queue, job name and state in steps of `step` seconds, optionally of one queue
#: and one job name.
SERIES = """
SELECT at - at % :step AS t, queue, name, state, sum(runs) AS runs FROM underway_history
WHERE span_s = :span AND at >= :since
  AND (:queue IS NULL OR queue = :queue) AND (:name IS NULL OR name = :name)
GROUP BY t, queue, name, state ORDER BY t
"""
#: The same counts of the jobs finished since `lo` that the rollup has not folded yet (past
#: the watermark), read through the index of finish times.
TAIL = """
SELECT CAST(finished_at AS INTEGER) - CAST(finished_at AS INTEGER) % :step AS t, queue, name,
    state, count(*) AS runs
FROM underway_jobs INDEXED BY underway_jobs_finished
WHERE finished_at >= :lo AND (finished_at > :at OR seq > :seq)
  AND (:queue IS NULL OR queue = :queue) AND (:name IS NULL OR name = :name)
GROUP BY t, queue, name, state
"""
#: One job name's finished jobs since `lo` that the rollup has not folded yet.
TAIL_JOBS = """
SELECT seq, queue, name, state, run_at, started_at, finished_at
FROM underway_jobs INDEXED BY underway_jobs_finished
WHERE finished_at >= :lo AND (finished_at > :at OR seq > :seq) AND name = :name
  AND (:queue IS NULL OR queue = :queue)
"""
#: Counts per queue, job name and state between two times.
TOTALS = """
SELECT queue, name, state, sum(runs) AS runs FROM underway_history
WHERE span_s = :span AND at >= :since AND at < :until
GROUP BY queue, name, state
"""
#: One job name's buckets, with their histograms, oldest first.
BUCKETS = """
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits
FROM underway_history WHERE name = :name AND span_s = :span AND at >= :since
  AND (:queue IS NULL OR queue = :queue)
ORDER BY at
"""
#: Waiting jobs per queue (pending, or scheduled and due; plain, limited and parked: three
#: parts that no job is in twice), read through the partial indexes that hold only waiting
#: jobs, never the whole table; rows as queues.JOB_COUNTS's, all counted as 'pending'.
WAITING = """
SELECT queue, 'pending' AS state, count(*) AS n, min(run_at) AS oldest_waiting_at, 0 AS started
FROM (
    SELECT queue, run_at FROM underway_jobs
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
      AND run_at <= :now
    UNION ALL
    SELECT queue, run_at FROM underway_jobs
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
      AND held_until IS NULL AND run_at <= :now
    UNION ALL
    SELECT queue, run_at FROM underway_jobs
    WHERE held_until IS NOT NULL AND state IN ('pending', 'scheduled') AND run_at <= :now
      AND (lane IS NOT NULL OR rate_key IS NOT NULL)
)
GROUP BY queue
"""
LOSSES = """
SELECT worker_id, hostname, pid, last_seen_at, job_id, name, attempt, became, lost_at
FROM underway_worker_losses WHERE lost_at >= ? ORDER BY lost_at DESC LIMIT ?
"""


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
        start = bucket_bound(since)
        span = span_for_step(step_s)
        params = {"since": start, "step": step_s, "span": span, "queue": queue, "name": name}

        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            at, seq = history.watermark(conn)
            tail = {**params, "at": at, "seq": seq, "lo": max(at, start)}
            return [*conn.execute(SERIES, params), *conn.execute(TAIL, tail)]

        rows = await self._reader.read(read)
        return [
            HistoryPoint(datetime.fromtimestamp(t, UTC), q, n, s, int(runs))
            for t, q, n, s, runs in rows
        ]

    async def history_totals(self, since: datetime, until: datetime) -> list[HistoryTotal]:
        params = totals_range(since, until)
        rows = await self._reader.read(lambda c: c.execute(TOTALS, params).fetchall())
        return [HistoryTotal(q, n, s, int(runs)) for q, n, s, runs in rows]

    async def history_buckets(
        self, name: str, since: datetime, step_s: int, queue: str | None = None
    ) -> list[HistoryBucket]:
        start = bucket_bound(since)
        params = {"name": name, "since": start, "span": span_for_step(step_s), "queue": queue}

        def read(conn: sqlite3.Connection) -> list[HistoryBucket]:
            at, seq = history.watermark(conn)
            stored = [bucket_of(*history.tally_of(row)) for row in conn.execute(BUCKETS, params)]
            tail = {**params, "at": at, "seq": seq, "lo": max(at, start)}
            jobs = [history.finished_job(row) for row in conn.execute(TAIL_JOBS, tail)]
            return [*stored, *(bucket_of(*item) for item in fold(jobs).items())]

        return await self._reader.read(read)

    async def waiting_queues(self, stale_after_s: float) -> list[QueueInfo]:
        now = self._clock.now()

        def read(conn: sqlite3.Connection) -> list[QueueInfo]:
            settings = [dict(row) for row in conn.execute(queues.SETTINGS, {"name": None})]
            waiting = [dict(row) for row in conn.execute(WAITING, {"now": now})]
            alive = conn.execute(queues.LIVE_WORKERS, (now - stale_after_s,))
            workers = [(row["id"], json.loads(row["queues"])) for row in alive]
            return queue_infos_from_rows(settings, waiting, workers, epoch_to_datetime)

        return await self._reader.read(read)

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
