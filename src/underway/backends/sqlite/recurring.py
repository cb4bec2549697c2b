"""Recurring (cron) definitions on SQLite: storage and the fenced firing of one tick."""

from __future__ import annotations

import sqlite3

from ...errors import RecurringNameTaken
from ...models import EnqueueResult, NewJob, NewRecurring, Recurring
from .. import policy
from ..codecs import data_to_json_text, epoch_to_datetime, json_text_to_data
from ..rows import recurring_from_row
from . import enqueue, reads

GET = """
SELECT r.*, j.state AS last_job_state FROM underway_recurring r
LEFT JOIN underway_jobs j ON j.id = r.last_job_id
WHERE r.id = ?
"""
LIST = """
SELECT r.*, j.state AS last_job_state FROM underway_recurring r
LEFT JOIN underway_jobs j ON j.id = r.last_job_id
ORDER BY r.name
"""
DUE = """
SELECT r.*, j.state AS last_job_state FROM underway_recurring r
LEFT JOIN underway_jobs j ON j.id = r.last_job_id
WHERE r.enabled = 1 AND r.next_fire_at <= ? ORDER BY r.next_fire_at
"""
#: The run of a definition that is still active, if any.
ACTIVE_RUN = """
SELECT * FROM underway_jobs
WHERE recurring_id = ? AND state IN ('pending', 'running', 'scheduled', 'waiting')
LIMIT 1
"""


def recurring(row: sqlite3.Row) -> Recurring:
    return recurring_from_row(dict(row), epoch_to_datetime, json_text_to_data)


def get(conn: sqlite3.Connection, recurring_id: str) -> Recurring | None:
    row = conn.execute(GET, (recurring_id,)).fetchone()
    return None if row is None else recurring(row)


def list_all(conn: sqlite3.Connection) -> list[Recurring]:
    return [recurring(row) for row in conn.execute(LIST)]


def due(conn: sqlite3.Connection, now: float) -> list[Recurring]:
    rows = conn.execute(DUE, (now,))
    return [recurring(row) for row in rows]


def add(conn: sqlite3.Connection, new: NewRecurring, now: float) -> Recurring:
    try:
        conn.execute(
            "INSERT INTO underway_recurring (id, name, job_name, cron, timezone, args, enabled, "
            "overlap, catch_up, from_code, created_at, next_fire_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.id,
                new.name,
                new.job_name,
                new.cron,
                new.timezone,
                data_to_json_text(new.args),
                new.enabled,
                new.overlap,
                new.catch_up,
                new.from_code,
                now,
                new.next_fire_at.timestamp(),
            ),
        )
    except sqlite3.IntegrityError:
        raise RecurringNameTaken(new.name) from None
    found = get(conn, new.id)
    assert found is not None
    return found


def sync_declared(conn: sqlite3.Connection, declared: list[NewRecurring], now: float) -> None:
    """Upsert the definitions declared in code; disable code definitions no longer declared."""
    for new in declared:
        row = conn.execute(
            "SELECT cron, timezone, enabled, from_code FROM underway_recurring WHERE name = ?",
            (new.name,),
        ).fetchone()
        if row is None:
            add(conn, new, now)
            continue
        timing_changed = (row["cron"], row["timezone"]) != (new.cron, new.timezone)
        conn.execute(
            "UPDATE underway_recurring SET job_name = ?, cron = ?, timezone = ?, args = ?, "
            "overlap = ?, catch_up = ?, from_code = 1, "
            "enabled = CASE WHEN from_code = 0 THEN 1 ELSE enabled END, "
            "next_fire_at = CASE WHEN ? OR from_code = 0 THEN ? ELSE next_fire_at END "
            "WHERE name = ?",
            (
                new.job_name,
                new.cron,
                new.timezone,
                data_to_json_text(new.args),
                new.overlap,
                new.catch_up,
                timing_changed,
                new.next_fire_at.timestamp(),
                new.name,
            ),
        )
    names = [new.name for new in declared]
    conn.execute(
        "UPDATE underway_recurring SET enabled = 0, from_code = 0 WHERE from_code = 1 "
        f"AND name NOT IN ({','.join('?' * len(names))})",
        names,
    )


def set_enabled(
    conn: sqlite3.Connection, recurring_id: str, enabled: bool, next_fire_at: float
) -> Recurring | None:
    conn.execute(
        "UPDATE underway_recurring SET enabled = ?, next_fire_at = ? WHERE id = ?",
        (enabled, next_fire_at, recurring_id),
    )
    return get(conn, recurring_id)


def remove(conn: sqlite3.Connection, recurring_id: str) -> bool:
    cursor = conn.execute("DELETE FROM underway_recurring WHERE id = ?", (recurring_id,))
    return cursor.rowcount > 0


def fire(
    conn: sqlite3.Connection,
    recurring_id: str,
    expected_next: float,
    job: NewJob | None,
    next_fire_at: float,
    now: float,
) -> EnqueueResult | None:
    """Advance a due definition (only if no other scheduler did) and store its tick's job."""
    row = conn.execute(
        "UPDATE underway_recurring SET next_fire_at = ? "
        "WHERE id = ? AND enabled = 1 AND next_fire_at = ? RETURNING overlap",
        (next_fire_at, recurring_id, expected_next),
    ).fetchone()
    if row is None or job is None:
        return None
    result = _store_tick(conn, job, row["overlap"], now)
    conn.execute(
        "UPDATE underway_recurring SET last_fire_at = ?, last_job_id = ? WHERE id = ?",
        (enqueue.timestamp(job.fire_at), result.id, recurring_id),
    )
    return result


def store_run(conn: sqlite3.Connection, job: NewJob, now: float) -> EnqueueResult:
    """Store a run started by hand ("trigger now") and record it as the last run."""
    result = enqueue.enqueue_one(conn, job, now)
    conn.execute(
        "UPDATE underway_recurring SET last_job_id = ? WHERE id = ?", (result.id, job.recurring_id)
    )
    return result


def _store_tick(conn: sqlite3.Connection, job: NewJob, overlap: str, now: float) -> EnqueueResult:
    previous = reads.first(conn, ACTIVE_RUN, (job.recurring_id,))
    skip = policy.overlap_skip(previous, overlap)
    if skip is not None:
        return enqueue.record_skip(conn, job, now, skip)
    return enqueue.enqueue_one(conn, job, now)
