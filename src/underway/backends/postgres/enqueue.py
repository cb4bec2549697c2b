"""Storing new jobs on PostgreSQL: uniqueness, idempotency keys and cron ticks, race-free."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ...errors import StorageUnavailable, ValidationError
from ...models import EnqueueResult, Job, JobState, NewJob
from ..policy import ACTIVE, STATES
from . import reads
from .connection import channel_name
from .tx import Tx, batch_params, batch_select
from .values import UnstorableValue, jsonb_text

#: Rounds of "insert, find what it conflicted with"; each ends unless a rival job finished.
INSERT_ROUNDS = 5

INSERT = """
INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, max_attempts, run_at,
    finished_at, fingerprint, unique_mode, lane, lane_limit, retention_s, expires_at,
    duplicate_of, skip_reason, idempotency_key, recurring_id, fire_at)
SELECT %(id)s::text, %(name)s::text, %(queue)s::text, %(priority)s::int,
    CASE WHEN %(skipped)s::bool THEN 'skipped'
         WHEN t.run_at > now() THEN 'scheduled' ELSE 'pending' END,
    %(args)s::jsonb, %(max_attempts)s::int, t.run_at,
    CASE WHEN %(skipped)s::bool THEN now() END,
    %(fingerprint)s::text, %(unique)s::text, %(lane)s::text, %(lane_limit)s::int,
    %(retention_s)s::float8,
    CASE WHEN %(skipped)s::bool THEN now() + make_interval(secs => %(retention_s)s::float8) END,
    %(duplicate_of)s::text, %(reason)s::text, %(idempotency_key)s::text,
    %(recurring_id)s::text, %(fire_at)s::timestamptz
FROM (SELECT coalesce(%(run_at)s::timestamptz,
                      now() + make_interval(secs => %(delay_s)s::float8)) AS run_at) t
ON CONFLICT DO NOTHING
RETURNING *
"""


#: Plain jobs (no idempotency key, join/skip or cron tick) from the rows of SOURCE, inserted
#: in the order ORDER gives.
_INSERT_PLAIN_ROWS = """
    INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, max_attempts, run_at,
        fingerprint, unique_mode, lane, lane_limit, retention_s)
    SELECT j.id, j.name, j.queue, j.priority,
        CASE WHEN j.run_at > now() THEN 'scheduled' ELSE 'pending' END,
        j.args, j.max_attempts, j.run_at, j.fingerprint, j.unique_mode, j.lane, j.lane_limit,
        j.retention_s
    FROM (SELECT id, name, queue, priority, args, max_attempts,
                 coalesce(run_at, now() + make_interval(secs => delay_s)) AS run_at,
                 fingerprint, unique_mode, lane, lane_limit, retention_s
          FROM SOURCE
               AS t(id, name, queue, priority, args, max_attempts, run_at, delay_s,
                    fingerprint, unique_mode, lane, lane_limit, retention_s, n)
          ORDER) j
    ON CONFLICT DO NOTHING
    RETURNING id, state, queue, created_at, run_at
"""
#: A batch of plain jobs in one statement; the NOTIFY for each queue that got pending work
#: is sent by the same statement.
_INSERT_PLAIN = f"""
WITH ins AS ({_INSERT_PLAIN_ROWS.replace("ORDER", "ORDER BY n")}),
woken AS (
    SELECT pg_notify(%(channel)s, queue) FROM (SELECT DISTINCT queue FROM ins
                                               WHERE state = 'pending') q
)
SELECT ins.* FROM ins, (SELECT count(*) FROM woken) w
"""
#: The plain insert's input columns and their types, in the order the statement reads them.
PLAIN_TYPES = {
    "ids": "text",
    "names": "text",
    "queues": "text",
    "priorities": "int",
    "args": "jsonb",
    "max_attempts": "int",
    "run_ats": "timestamptz",
    "delays": "float8",
    "fingerprints": "text",
    "uniques": "text",
    "lanes": "text",
    "lane_limits": "int",
    "retentions": "float8",
}


@functools.lru_cache(maxsize=64)
def insert_plain(varying: tuple[str, ...]) -> str:
    """The plain insert with the `varying` columns as arrays and every other column as one
    value for all jobs (`batch_params`)."""
    return _INSERT_PLAIN.replace("SOURCE", f"({batch_select(PLAIN_TYPES, varying, numbered=True)})")


#: One plain job (each `app.enqueue` call): its row's values as parameters, and a NOTIFY if
#: it is pending, without the batch's ordering and DISTINCT (5-13% slower for one row).
_ONE_PLAIN_ROW = _INSERT_PLAIN_ROWS.replace("ORDER", "").replace(
    "SOURCE", f"({batch_select(PLAIN_TYPES, (), numbered=True)})"
)
INSERT_ONE_PLAIN = f"""
WITH ins AS ({_ONE_PLAIN_ROW})
SELECT id, state, created_at, run_at,
    CASE WHEN state = 'pending' THEN pg_notify(%(channel)s, queue) END AS notified
FROM ins
"""


async def enqueue_plain(tx: Tx, jobs: Sequence[NewJob]) -> dict[str, EnqueueResult]:
    """Insert plain jobs in one round trip; the results of those inserted, by id.

    A job missing from the answer collided with a stored one (a retried call with the same
    id); `enqueue_one` resolves it.
    """
    values = []
    for job in jobs:
        try:
            args = jsonb_text(job.args)
        except UnstorableValue as exc:
            raise ValidationError(job.name, [{"loc": ("args",), "msg": str(exc)}]) from None
        values.append(
            (
                job.id,
                job.name,
                job.queue,
                job.priority,
                args,
                job.max_attempts,
                job.run_at,
                float(job.delay_s),
                job.fingerprint,
                job.unique,
                job.lane,
                job.lane_limit,
                float(job.retention_s),
            )
        )
    varying, params = batch_params(PLAIN_TYPES, values)
    params["channel"] = channel_name(tx.schema, "work")
    rows = await tx.rows(INSERT_ONE_PLAIN if len(jobs) == 1 else insert_plain(varying), params)
    inserted = {row["id"]: row for row in rows}
    return {
        job.id: EnqueueResult.inserted(job, STATES[row["state"]], row["created_at"], row["run_at"])
        for job in jobs
        if (row := inserted.get(job.id)) is not None
    }


async def enqueue_one(tx: Tx, job: NewJob) -> EnqueueResult:
    """Store one job in the caller's transaction, or find the job it duplicates."""
    try:
        args = jsonb_text(job.args)
    except UnstorableValue as exc:
        raise ValidationError(job.name, [{"loc": ("args",), "msg": str(exc)}]) from None
    if job.unique in ("join", "skip") and job.fingerprint is not None:
        # Same-fingerprint enqueuers queue up here, so each sees the one before it committed.
        await tx.run(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"underway:fingerprint:{job.fingerprint}",),
        )
    for _ in range(INSERT_ROUNDS):
        existing = await _existing(tx, job, args)
        if existing is not None:
            return existing
        row = await tx.row(INSERT, _params(job, args))
        if row is not None:
            if row["state"] == JobState.PENDING.value:
                await notify(tx, "work", job.queue)
            return EnqueueResult(job=reads.job(row))
        conflict = await _conflicting(tx, job)
        if conflict is not None:
            return conflict
    raise StorageUnavailable(f"job {job.name}: enqueue kept conflicting with finishing jobs")


async def _existing(tx: Tx, job: NewJob, args: str) -> EnqueueResult | None:
    """The stored job this request resolves to: same idempotency key, or an active duplicate."""
    if job.idempotency_key is not None:
        keyed = await reads.get_by(tx, "idempotency_key = %s", (job.idempotency_key,))
        if keyed is not None:
            return EnqueueResult(job=keyed, joined=True)
    if job.unique not in ("join", "skip"):
        return None
    active = await _active_duplicate(tx, job)
    if active is None:
        return None
    if job.unique == "join":
        return EnqueueResult(job=active, joined=True)
    if not job.record_skipped:
        return EnqueueResult(job=active, skipped=True)
    reason = f"job {active.id} with the same arguments is {active.state.value}"
    row = await tx.row(INSERT, _params(job, args, duplicate_of=active.id, reason=reason))
    if row is None:
        tick = await _same_tick(tx, job)
        return None if tick is None else EnqueueResult(job=tick, joined=True)
    return EnqueueResult(job=reads.job(row), skipped=True)


async def _active_duplicate(tx: Tx, job: NewJob) -> Job | None:
    window = job.unique_for_s if job.unique_for_s is not None else -1.0
    return await reads.get_by(
        tx,
        f"fingerprint = %s AND unique_mode IN ('join', 'skip') AND (state IN {ACTIVE} "
        "OR (state = 'completed' AND finished_at >= now() - make_interval(secs => %s))) "
        "ORDER BY (state = 'completed'), finished_at DESC",
        (job.fingerprint, window),
    )


async def _conflicting(tx: Tx, job: NewJob) -> EnqueueResult | None:
    """What an insert collided with: this very job (a retried call) or the same cron tick."""
    same = await reads.get(tx, job.id)
    if same is not None:
        return EnqueueResult(job=same, skipped=same.state is JobState.SKIPPED)
    tick = await _same_tick(tx, job)
    return None if tick is None else EnqueueResult(job=tick, joined=True)


async def _same_tick(tx: Tx, job: NewJob) -> Job | None:
    if job.recurring_id is None:
        return None
    return await reads.get_by(
        tx, "recurring_id = %s AND fire_at = %s", (job.recurring_id, job.fire_at)
    )


def _params(
    job: NewJob, args: str, *, duplicate_of: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    skipped = duplicate_of is not None
    return {
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "priority": job.priority,
        "skipped": skipped,
        "args": args,
        "max_attempts": job.max_attempts,
        "run_at": job.run_at,
        "delay_s": float(job.delay_s),
        "fingerprint": job.fingerprint,
        "unique": job.unique,
        "lane": job.lane,
        "lane_limit": job.lane_limit,
        "retention_s": float(job.retention_s),
        "duplicate_of": duplicate_of,
        "reason": reason,
        "idempotency_key": None if skipped else job.idempotency_key,
        "recurring_id": job.recurring_id,
        "fire_at": job.fire_at,
    }


async def notify(tx: Tx, channel: str, payload: str) -> None:
    """Send a NOTIFY on commit of this transaction (PostgreSQL drops duplicates within it)."""
    await tx.run("SELECT pg_notify(%s, %s)", (channel_name(tx.schema, channel), payload))
