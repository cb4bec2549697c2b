"""Reading the history on PostgreSQL: series of counts, totals per queue and job name, and one
job name's buckets with their histograms, each with the jobs the rollup has not folded yet;
the jobs taken back from lost workers; the waiting jobs of each queue (for the alerts).
Bucket starts are epoch seconds; a read adds up minutes for steps under an hour and ranges
within a day, hours otherwise (history_rules.span_for_step, totals_range)."""

from __future__ import annotations

from datetime import UTC, datetime

from ...history_models import HistoryBucket, HistoryPoint, HistoryTotal, WorkerLoss
from ...queue_models import QueueInfo
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
from .connection import PostgresPool
from .tx import ONE_SNAPSHOT, Row, Tx
from .values import NUL

#: Counts per queue, job name and state in steps of `step` seconds, optionally of one queue
#: and one job name.
SERIES = """
SELECT at - at %% %(step)s AS t, queue, name, state, sum(runs) AS runs FROM {schema}.history
WHERE span_s = %(span)s AND at >= %(since)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
  AND (%(name)s::text IS NULL OR name = %(name)s)
GROUP BY t, queue, name, state ORDER BY t
"""
#: The same counts of the jobs finished since `since` that the rollup has not folded yet (past
#: the watermark), read through the index of finish times.
TAIL = """
SELECT t - t %% %(step)s AS t, queue, name, state, count(*) AS runs
FROM (
    SELECT floor(extract(epoch FROM j.finished_at))::bigint AS t, j.queue, j.name, j.state
    FROM {schema}.jobs AS j, {schema}.history_rollup AS w
    WHERE w.id = 1 AND j.finished_at IS NOT NULL
      AND j.finished_at >= greatest(to_timestamp(%(since)s), w.folded_at)
      AND (j.finished_at, j.seq) > (w.folded_at, w.folded_seq)
      AND (%(queue)s::text IS NULL OR j.queue = %(queue)s)
      AND (%(name)s::text IS NULL OR j.name = %(name)s)
) AS tail
GROUP BY 1, queue, name, state
"""
#: One job name's finished jobs since `since` that the rollup has not folded yet.
TAIL_JOBS = """
SELECT j.seq, j.queue, j.name, j.state, extract(epoch FROM j.run_at)::float8 AS run_at,
    extract(epoch FROM j.started_at)::float8 AS started_at,
    extract(epoch FROM j.finished_at)::float8 AS finished_at
FROM {schema}.jobs AS j, {schema}.history_rollup AS w
WHERE w.id = 1 AND j.finished_at IS NOT NULL
  AND j.finished_at >= greatest(to_timestamp(%(since)s), w.folded_at)
  AND (j.finished_at, j.seq) > (w.folded_at, w.folded_seq) AND j.name = %(name)s
  AND (%(queue)s::text IS NULL OR j.queue = %(queue)s)
"""
#: Counts per queue, job name and state between two times.
TOTALS = """
SELECT queue, name, state, sum(runs) AS runs FROM {schema}.history
WHERE span_s = %(span)s AND at >= %(since)s AND at < %(until)s
GROUP BY queue, name, state
"""
#: One job name's buckets, with their histograms, oldest first.
BUCKETS = """
SELECT span_s, at, queue, name, state, runs, timed, duration_sum, wait_sum, durations, waits
FROM {schema}.history WHERE name = %(name)s AND span_s = %(span)s AND at >= %(since)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
ORDER BY at
"""
#: Waiting jobs per queue (pending, or scheduled and due; plain, limited and parked: three
#: parts that no job is in twice), read through the partial indexes that hold only waiting
#: jobs, never the whole table; rows as queues.JOB_COUNTS's, all counted as 'pending'.
WAITING = """
SELECT queue, 'pending' AS state, count(*) AS n, min(run_at) AS oldest_waiting_at, 0 AS started
FROM (
    SELECT queue, run_at FROM {schema}.jobs
    WHERE state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
      AND run_at <= now()
    UNION ALL
    SELECT queue, run_at FROM {schema}.jobs
    WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
      AND held_until IS NULL AND run_at <= now()
    UNION ALL
    SELECT queue, run_at FROM {schema}.jobs
    WHERE held_until IS NOT NULL AND state IN ('pending', 'scheduled') AND run_at <= now()
      AND (lane IS NOT NULL OR rate_key IS NOT NULL)
) AS waiting
GROUP BY queue
"""
LOSSES = """
SELECT worker_id, hostname, pid, last_seen_at, job_id, name, attempt, became, lost_at
FROM {schema}.worker_losses WHERE lost_at >= %s ORDER BY lost_at DESC LIMIT %s
"""


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
            "since": bucket_bound(since),
            "step": step_s,
            "span": span_for_step(step_s),
            "queue": no_nul(queue),
            "name": no_nul(name),
        }

        async def read(tx: Tx) -> list[Row]:
            await tx.run(ONE_SNAPSHOT)  # a rollup between the two reads counts nothing twice
            return [*await tx.rows(SERIES, params), *await tx.rows(TAIL, params)]

        rows = await self._pool.transaction(read)
        return [
            HistoryPoint(
                datetime.fromtimestamp(r["t"], UTC),
                r["queue"],
                r["name"],
                r["state"],
                int(r["runs"]),
            )
            for r in rows
        ]

    async def history_totals(self, since: datetime, until: datetime) -> list[HistoryTotal]:
        params = totals_range(since, until)
        rows = await self._pool.transaction(lambda tx: tx.rows(TOTALS, params))
        return [HistoryTotal(r["queue"], r["name"], r["state"], int(r["runs"])) for r in rows]

    async def history_buckets(
        self, name: str, since: datetime, step_s: int, queue: str | None = None
    ) -> list[HistoryBucket]:
        params = {
            "name": no_nul(name),
            "since": bucket_bound(since),
            "span": span_for_step(step_s),
            "queue": no_nul(queue),
        }

        async def read(tx: Tx) -> list[HistoryBucket]:
            await tx.run(ONE_SNAPSHOT)  # a rollup between the two reads counts nothing twice
            stored = [bucket_of(*history.tally_of(row)) for row in await tx.rows(BUCKETS, params)]
            jobs = [history.finished_job(row) for row in await tx.rows(TAIL_JOBS, params)]
            return [*stored, *(bucket_of(*item) for item in fold(jobs).items())]

        return await self._pool.transaction(read)

    async def waiting_queues(self, stale_after_s: float) -> list[QueueInfo]:
        async def read(tx: Tx) -> list[QueueInfo]:
            settings = await tx.rows(queues.SETTINGS, {"name": None})
            waiting = await tx.rows(WAITING)
            alive = await tx.rows(queues.LIVE_WORKERS, (stale_after_s,))
            workers = [(row["id"], row["queues"]) for row in alive]
            return queue_infos_from_rows(settings, waiting, workers, lambda value: value)

        return await self._pool.transaction(read)

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
