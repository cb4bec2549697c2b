"""Queues on SQLite: the limits declared in code, pause and resume, and what operators see."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from ...errors import QueueNotFound
from ...models import QueueInfo, QueueLimits
from ..base import LIVE_WORKER_S
from ..codecs import epoch_to_datetime
from ..rows import queue_infos_from_rows
from . import queue_counts

#: A declared queue's limits, on its row (added if it has none); its pause is left alone.
SET_LIMITS = """
INSERT INTO underway_queues (name, concurrency, rate_limit, rate_window_s, rate_fixed)
VALUES (:name, :concurrency, :rate_limit, :rate_window_s, :rate_fixed)
ON CONFLICT (name) DO UPDATE SET
    concurrency = excluded.concurrency,
    rate_limit = excluded.rate_limit,
    rate_window_s = excluded.rate_window_s,
    rate_fixed = excluded.rate_fixed
"""
#: Queues no longer declared (the names as one JSON array) keep their row and pause, not
#: their limits.
CLEAR_UNDECLARED_LIMITS = """
UPDATE underway_queues
SET concurrency = NULL, rate_limit = NULL, rate_window_s = NULL, rate_fixed = 0
WHERE name NOT IN (SELECT value FROM json_each(?))
  AND (concurrency IS NOT NULL OR rate_limit IS NOT NULL OR rate_fixed)
"""
#: Pausing a paused queue keeps when and by whom it was paused first.
PAUSE = """
INSERT INTO underway_queues (name, paused, paused_at, paused_by) VALUES (?, 1, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    paused = 1,
    paused_at = CASE WHEN underway_queues.paused THEN underway_queues.paused_at
                     ELSE excluded.paused_at END,
    paused_by = CASE WHEN underway_queues.paused THEN underway_queues.paused_by
                     ELSE excluded.paused_by END
"""
RESUME = """
UPDATE underway_queues SET paused = 0, paused_at = NULL, paused_by = NULL WHERE name = ?
"""
#: The queues table's rows: every one, or the one named.
SETTINGS = "SELECT * FROM underway_queues WHERE :name IS NULL OR name = :name"
LIVE_WORKERS = """
SELECT id, queues FROM underway_workers WHERE heartbeat_at >= ? ORDER BY started_at, id
"""


def sync_limits(conn: sqlite3.Connection, declared: Sequence[QueueLimits]) -> None:
    """Set the limits of the queues declared in code; clear those of the others."""
    conn.executemany(
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
    conn.execute(CLEAR_UNDECLARED_LIMITS, (json.dumps([limits.name for limits in declared]),))


def pause(conn: sqlite3.Connection, name: str, by: str | None, now: float) -> QueueInfo:
    conn.execute(PAUSE, (name, now, by))
    return _found(conn, name, now)


def resume(conn: sqlite3.Connection, name: str, now: float) -> QueueInfo:
    conn.execute(RESUME, (name,))
    return _found(conn, name, now)


def list_queues(
    conn: sqlite3.Connection, now: float, stale_after_s: float, name: str | None = None
) -> list[QueueInfo]:
    """Every queue (or the one named) with its limits, pause, jobs and live workers."""
    settings = [dict(row) for row in conn.execute(SETTINGS, {"name": name})]
    counts = queue_counts.job_counts(conn, name, now)
    workers = [
        (row["id"], json.loads(row["queues"]))
        for row in conn.execute(LIVE_WORKERS, (now - stale_after_s,))
    ]
    found = queue_infos_from_rows(settings, counts, workers, epoch_to_datetime)
    return found if name is None else [info for info in found if info.name == name]


def get_queue(
    conn: sqlite3.Connection, name: str, now: float, stale_after_s: float
) -> QueueInfo | None:
    found = list_queues(conn, now, stale_after_s, name)
    return found[0] if found else None


def _found(conn: sqlite3.Connection, name: str, now: float) -> QueueInfo:
    """The queue as a pause or resume leaves it; QueueNotFound if nothing is stored of it."""
    found = get_queue(conn, name, now, LIVE_WORKER_S)
    if found is None:
        raise QueueNotFound(name)
    return found
