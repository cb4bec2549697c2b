"""Each queue's jobs per state on SQLite, counted on indexes (a count of every row's state
reads the whole table): completed ones are all of a queue's jobs less those in other states.
Rows as `rows.queue_infos_from_rows` takes them: (queue, state, n, oldest_waiting_at,
started)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

#: "AND queue = :name" when one queue is asked for, else nothing.
ONE_QUEUE = "AND (:name IS NULL OR queue = :name)"
#: All of each queue's jobs, on the index of queues.
ALL_JOBS = f"""
SELECT queue, count(*) FROM underway_jobs WHERE queue IS NOT NULL {ONE_QUEUE} GROUP BY queue
"""
#: Jobs in the states few jobs are in, but running, on the index by queue and state.
FEW_STATES = f"""
SELECT queue, state, count(*) FROM underway_jobs
WHERE (state = 'scheduled' OR state = 'failed' OR state = 'cancelled' OR state = 'skipped'
       OR state = 'waiting') {ONE_QUEUE}
GROUP BY queue, state
"""
#: Running jobs, on their own index, and how many of them started in the last minute.
RUNNING = f"""
SELECT queue, count(*), count(*) FILTER (WHERE started_at >= :now - 60) FROM underway_jobs
WHERE state = 'running' {ONE_QUEUE}
GROUP BY queue
"""
#: Pending and scheduled jobs, on the claim indexes, which split them: plain; with a lane or a
#: rate key; parked.
READY_JOBS = """
SELECT queue, run_at FROM underway_jobs
WHERE state IN ('pending', 'scheduled') AND lane IS NULL AND rate_key IS NULL
UNION ALL
SELECT queue, run_at FROM underway_jobs
WHERE state IN ('pending', 'scheduled') AND (lane IS NOT NULL OR rate_key IS NOT NULL)
  AND held_until IS NULL
UNION ALL
SELECT queue, run_at FROM underway_jobs
WHERE held_until IS NOT NULL AND state IN ('pending', 'scheduled')
  AND (lane IS NOT NULL OR rate_key IS NOT NULL)
"""
#: READY_JOBS per queue, and the earliest due run_at among them.
READY = f"""
SELECT queue, count(*), min(run_at) FILTER (WHERE run_at <= :now) FROM ({READY_JOBS})
WHERE 1 {ONE_QUEUE}
GROUP BY queue
"""
#: Jobs that started in the last minute and have ended since, on the index of finish times.
ENDED_SINCE_STARTED = f"""
SELECT queue, count(*) FROM underway_jobs INDEXED BY underway_jobs_finished
WHERE finished_at >= :now - 60 AND started_at >= :now - 60 {ONE_QUEUE}
GROUP BY queue
"""


def job_counts(conn: sqlite3.Connection, name: str | None, now: float) -> list[dict[str, Any]]:
    """Per queue and state: the jobs, the earliest due run_at of those waiting (on the row
    of the pending ones), and the attempts started in the last minute that are running or
    have ended (on the row of the running ones)."""
    params = {"name": name, "now": now}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for queue, state, n in conn.execute(FEW_STATES, params):
        counts[queue][state] = n
    started: dict[str, int] = defaultdict(int)
    for queue, n, recent in conn.execute(RUNNING, params):
        counts[queue]["running"] = n
        started[queue] += recent
    for queue, n in conn.execute(ENDED_SINCE_STARTED, params):
        started[queue] += n
    oldest: dict[str, float | None] = {}
    for queue, n, due in conn.execute(READY, params):
        counts[queue]["pending"] = n - counts[queue].get("scheduled", 0)
        oldest[queue] = due
    for queue, n in conn.execute(ALL_JOBS, params):
        counts[queue]["completed"] = n - sum(counts[queue].values())
    rows: list[dict[str, Any]] = []
    for queue, states in counts.items():
        found = [(state, n) for state, n in states.items() if n > 0]
        for i, (state, n) in enumerate(found):
            # The queue's oldest waiting job and recent starts go on its first row.
            first = i == 0
            rows.append(
                {
                    "queue": queue,
                    "state": state,
                    "n": n,
                    "oldest_waiting_at": oldest.get(queue) if first else None,
                    "started": started[queue] if first else 0,
                }
            )
    return rows
