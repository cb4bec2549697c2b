"""Queues on PostgreSQL: the limits declared in code, pause and resume, and what operators see.

`PostgresQueues` holds the backend's queue methods: PostgresBackend would pass 400 lines with
them in its own body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import QueueNotFound
from ...models import QueueInfo, QueueLimits
from .. import policy
from ..base import LIVE_WORKER_S
from ..notifier import LocalNotifier
from ..rows import queue_infos_from_rows
from .connection import PostgresPool
from .tx import ONE_SNAPSHOT, Tx
from .values import NUL
from .wakeups import send_wakeups

#: A declared queue's limits, on its row (added if it has none); its pause is left alone.
SET_LIMITS = """
INSERT INTO {schema}.queues (name, concurrency, rate_limit, rate_window_s, rate_fixed)
VALUES (%(name)s, %(concurrency)s, %(rate_limit)s, %(rate_window_s)s, %(rate_fixed)s)
ON CONFLICT (name) DO UPDATE SET
    concurrency = excluded.concurrency,
    rate_limit = excluded.rate_limit,
    rate_window_s = excluded.rate_window_s,
    rate_fixed = excluded.rate_fixed
"""
#: Queues no longer declared keep their row and pause, not their limits.
CLEAR_UNDECLARED_LIMITS = """
UPDATE {schema}.queues
SET concurrency = NULL, rate_limit = NULL, rate_window_s = NULL, rate_fixed = false
WHERE NOT (name = ANY(%s))
  AND (concurrency IS NOT NULL OR rate_limit IS NOT NULL OR rate_fixed)
"""
#: Pausing a paused queue keeps when and by whom it was paused first.
PAUSE = """
INSERT INTO {schema}.queues AS q (name, paused, paused_at, paused_by) VALUES (%s, true, now(), %s)
ON CONFLICT (name) DO UPDATE SET
    paused = true,
    paused_at = CASE WHEN q.paused THEN q.paused_at ELSE excluded.paused_at END,
    paused_by = CASE WHEN q.paused THEN q.paused_by ELSE excluded.paused_by END
"""
RESUME = """
UPDATE {schema}.queues SET paused = false, paused_at = NULL, paused_by = NULL WHERE name = %s
"""
#: The queues table's rows: every one, or the one named.
SETTINGS = "SELECT * FROM {schema}.queues WHERE %(name)s::text IS NULL OR name = %(name)s"
#: Jobs per queue and state; of the waiting ones (pending, or scheduled and due) the
#: earliest run_at; and the attempts started in the last minute.
JOB_COUNTS = """
SELECT queue, state, count(*) AS n,
       min(run_at) FILTER (WHERE state = 'pending'
                           OR (state = 'scheduled' AND run_at <= now())) AS oldest_waiting_at,
       count(*) FILTER (WHERE started_at >= now() - interval '1 minute') AS started
FROM {schema}.jobs
WHERE %(name)s::text IS NULL OR queue = %(name)s
GROUP BY queue, state
"""
LIVE_WORKERS = """
SELECT id, queues FROM {schema}.workers
WHERE heartbeat_at >= now() - make_interval(secs => %s) ORDER BY started_at, id
"""


async def sync_limits(tx: Tx, declared: Sequence[QueueLimits]) -> None:
    """Set the limits of the queues declared in code; clear those of the others."""
    # Workers starting at once would otherwise lock the same rows in different orders.
    await tx.run("SELECT pg_advisory_xact_lock(hashtextextended('underway:queue-sync', 0))")
    await tx.many(
        SET_LIMITS,
        [
            {
                "name": limits.name,
                "concurrency": limits.concurrency,
                "rate_limit": limits.rate_limit,
                "rate_window_s": limits.rate_window_s,
                "rate_fixed": limits.rate_fixed,
            }
            for limits in declared
        ],
    )
    await tx.run(CLEAR_UNDECLARED_LIMITS, ([limits.name for limits in declared],))


async def pause(tx: Tx, name: str, by: str | None) -> QueueInfo:
    await tx.run(PAUSE, (name, by))
    return await _found(tx, name)


async def resume(tx: Tx, name: str) -> QueueInfo:
    await tx.run(RESUME, (name,))
    return await _found(tx, name)


async def list_queues(tx: Tx, stale_after_s: float, name: str | None = None) -> list[QueueInfo]:
    """Every queue (or the one named) with its limits, pause, jobs and live workers, all
    read in one snapshot: a worker that stores its queue's limits and then registers is
    seen with both or with neither."""
    await tx.run(ONE_SNAPSHOT)
    return await _queues(tx, stale_after_s, name)


async def get_queue(tx: Tx, name: str, stale_after_s: float) -> QueueInfo | None:
    found = await list_queues(tx, stale_after_s, name)
    return found[0] if found else None


async def _queues(tx: Tx, stale_after_s: float, name: str | None) -> list[QueueInfo]:
    settings = await tx.rows(SETTINGS, {"name": name})
    counts = await tx.rows(JOB_COUNTS, {"name": name})
    workers = [(row["id"], row["queues"]) for row in await tx.rows(LIVE_WORKERS, (stale_after_s,))]
    found = queue_infos_from_rows(settings, counts, workers, _same)
    return found if name is None else [info for info in found if info.name == name]


async def _found(tx: Tx, name: str) -> QueueInfo:
    """The queue as a pause or resume leaves it, read in the transaction that wrote it;
    QueueNotFound if nothing is stored of it."""
    found = await _queues(tx, LIVE_WORKER_S, name)
    if not found:
        raise QueueNotFound(name)
    return found[0]


def _same(value: Any) -> Any:
    return value


#: Whether a plain job is due in the queues, but paused ones and those with limits, of
#: these names (NULL: any name); a plain read, which waits on no row lock and skips none.
PLAIN_DUE = """
SELECT EXISTS (
    SELECT 1 FROM unnest(%(queues)s::text[]) AS q(name),
    LATERAL (SELECT 1 FROM {schema}.jobs WHERE queue = q.name
             AND state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
             AND run_at <= now() AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s))
             LIMIT 1) AS due
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.queues WHERE name = q.name
                      AND (paused OR concurrency IS NOT NULL OR rate_limit IS NOT NULL))
) AS due
"""


class PostgresQueues:
    """The Backend's queue methods on PostgreSQL (a part of PostgresBackend)."""

    _pool: PostgresPool
    _notifier: LocalNotifier

    async def plain_due(self, queues: Sequence[str], names: Sequence[str] | None = None) -> bool:
        params = {"queues": list(queues), "names": None if names is None else list(names)}

        async def read(tx: Tx) -> bool:
            row = await tx.row(PLAIN_DUE, params)
            return bool(row and row["due"])

        return await self._pool.statement(read)

    async def sync_queue_limits(self, declared: Sequence[QueueLimits]) -> None:
        await self._pool.transaction(lambda tx: sync_limits(tx, declared))

    async def pause_queue(self, name: str, by: str | None = None) -> QueueInfo:
        if NUL in name:  # PostgreSQL text cannot hold it, so no queue here has that name
            raise QueueNotFound(name)
        return await self._pool.transaction(lambda tx: pause(tx, name, by))

    async def resume_queue(self, name: str) -> QueueInfo:
        if NUL in name:
            raise QueueNotFound(name)

        async def resume_it(tx: Tx) -> QueueInfo:
            found = await resume(tx, name)
            await send_wakeups(tx, policy.NEW_WORK)
            return found

        found = await self._pool.transaction(resume_it)
        self._notifier.announce(policy.NEW_WORK)
        return found

    async def list_queues(self, stale_after_s: float) -> list[QueueInfo]:
        return await self._pool.transaction(lambda tx: list_queues(tx, stale_after_s))

    async def get_queue(self, name: str, stale_after_s: float) -> QueueInfo | None:
        if NUL in name:
            return None
        return await self._pool.transaction(lambda tx: get_queue(tx, name, stale_after_s))
