"""Recurring (cron) definitions on PostgreSQL: storage and the fenced firing of one tick."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from ...errors import RecurringNameTaken
from ...models import EnqueueResult, NewJob, NewRecurring, Recurring
from .. import policy
from ..rows import recurring_from_row
from . import reads
from .enqueue import enqueue_one, record_skip
from .tx import Row, Tx
from .values import jsonb_text

GET = """
SELECT r.*, j.state AS last_job_state FROM {schema}.recurring r
LEFT JOIN {schema}.jobs j ON j.id = r.last_job_id
WHERE r.id = %s
"""
LIST = """
SELECT r.*, j.state AS last_job_state FROM {schema}.recurring r
LEFT JOIN {schema}.jobs j ON j.id = r.last_job_id
ORDER BY r.name
"""
DUE = """
SELECT r.*, j.state AS last_job_state FROM {schema}.recurring r
LEFT JOIN {schema}.jobs j ON j.id = r.last_job_id
WHERE r.enabled AND r.next_fire_at <= %s ORDER BY r.next_fire_at
"""
#: The run of a definition that is still active, if any.
ACTIVE_RUN = """
SELECT * FROM {schema}.jobs
WHERE recurring_id = %s AND state IN ('pending', 'running', 'scheduled', 'waiting')
LIMIT 1
"""


def recurring(row: Row) -> Recurring:
    return recurring_from_row(row, _same, _same)


def _same(value: Any) -> Any:
    return value


async def get(tx: Tx, recurring_id: str) -> Recurring | None:
    row = await tx.row(GET, (recurring_id,))
    return None if row is None else recurring(row)


async def list_all(tx: Tx) -> list[Recurring]:
    return [recurring(row) for row in await tx.rows(LIST)]


async def due(tx: Tx, now: datetime) -> list[Recurring]:
    rows = await tx.rows(DUE, (now,))
    return [recurring(row) for row in rows]


async def add(tx: Tx, new: NewRecurring) -> Recurring:
    try:
        async with tx.savepoint():
            await tx.run(
                "INSERT INTO {schema}.recurring (id, name, job_name, cron, timezone, args, "
                "enabled, overlap, catch_up, from_code, next_fire_at) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)",
                (
                    new.id,
                    new.name,
                    new.job_name,
                    new.cron,
                    new.timezone,
                    jsonb_text(new.args),
                    new.enabled,
                    new.overlap,
                    new.catch_up,
                    new.from_code,
                    new.next_fire_at,
                ),
            )
    except psycopg.errors.UniqueViolation:
        raise RecurringNameTaken(new.name) from None
    found = await get(tx, new.id)
    assert found is not None
    return found


async def sync_declared(tx: Tx, declared: list[NewRecurring]) -> None:
    """Upsert the definitions declared in code; disable code definitions no longer declared."""
    await tx.run("SELECT pg_advisory_xact_lock(hashtextextended('underway:recurring-sync', 0))")
    for new in declared:
        row = await tx.row(
            "SELECT cron, timezone FROM {schema}.recurring WHERE name = %s", (new.name,)
        )
        if row is None:
            await add(tx, new)
            continue
        timing_changed = (row["cron"], row["timezone"]) != (new.cron, new.timezone)
        await tx.run(
            "UPDATE {schema}.recurring SET job_name = %s, cron = %s, timezone = %s, "
            "args = %s::jsonb, overlap = %s, catch_up = %s, from_code = true, "
            "enabled = CASE WHEN from_code THEN enabled ELSE true END, "
            "next_fire_at = CASE WHEN %s OR NOT from_code THEN %s ELSE next_fire_at END "
            "WHERE name = %s",
            (
                new.job_name,
                new.cron,
                new.timezone,
                jsonb_text(new.args),
                new.overlap,
                new.catch_up,
                timing_changed,
                new.next_fire_at,
                new.name,
            ),
        )
    await tx.run(
        "UPDATE {schema}.recurring SET enabled = false, from_code = false "
        "WHERE from_code AND NOT (name = ANY(%s))",
        ([new.name for new in declared],),
    )


async def set_enabled(
    tx: Tx, recurring_id: str, enabled: bool, next_fire_at: datetime
) -> Recurring | None:
    await tx.run(
        "UPDATE {schema}.recurring SET enabled = %s, next_fire_at = %s WHERE id = %s",
        (enabled, next_fire_at, recurring_id),
    )
    return await get(tx, recurring_id)


async def remove(tx: Tx, recurring_id: str) -> bool:
    return await tx.run("DELETE FROM {schema}.recurring WHERE id = %s", (recurring_id,)) > 0


async def fire(
    tx: Tx, recurring_id: str, expected_next: datetime, job: NewJob | None, next_fire_at: datetime
) -> EnqueueResult | None:
    """Advance a due definition (only if no other scheduler did) and store its tick's job."""
    row = await tx.row(
        "UPDATE {schema}.recurring SET next_fire_at = %s "
        "WHERE id = %s AND enabled AND next_fire_at = %s RETURNING overlap",
        (next_fire_at, recurring_id, expected_next),
    )
    if row is None or job is None:
        return None
    result = await _store_tick(tx, job, row["overlap"])
    await tx.run(
        "UPDATE {schema}.recurring SET last_fire_at = %s, last_job_id = %s WHERE id = %s",
        (job.fire_at, result.id, recurring_id),
    )
    return result


async def store_run(tx: Tx, job: NewJob) -> EnqueueResult:
    """Store a run started by hand ("trigger now") and record it as the last run."""
    result = await enqueue_one(tx, job)
    await tx.run(
        "UPDATE {schema}.recurring SET last_job_id = %s WHERE id = %s",
        (result.id, job.recurring_id),
    )
    return result


async def _store_tick(tx: Tx, job: NewJob, overlap: str) -> EnqueueResult:
    previous = await reads.first(tx, ACTIVE_RUN, (job.recurring_id,))
    skip = policy.overlap_skip(previous, overlap)
    if skip is not None:
        skipped = await record_skip(tx, job, jsonb_text(job.args), skip)
        if skipped is not None:
            return skipped
    # enqueue_one sends the NOTIFY of a pending job it stores.
    return await enqueue_one(tx, job)
