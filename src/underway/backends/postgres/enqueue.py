"""Storing new jobs on PostgreSQL: plain jobs in one statement per batch; jobs with an
idempotency key, a join/skip policy or a cron tick resolved as policy says, race-free; jobs
that wait for others stored with their edges, in the state their dependencies give them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import StorageUnavailable, ValidationError
from ...models import EnqueueResult, Job, JobState, NewJob
from .. import dependency_rules, policy
from . import dependencies, reads
from .connection import channel_name
from .tx import Tx, batch_params, batch_select, with_batch
from .values import UnstorableValue, error_jsonb, jsonb_text
from .wakeups import notify

#: Rounds of "insert, find what it conflicted with"; each ends unless a rival job finished.
INSERT_ROUNDS = 5

#: One job, of any kind; nothing if its id, idempotency key, cron tick or (join/skip) active
#: fingerprint is taken. `%(state)s`: NULL for pending or scheduled as run_at says, else the
#: state it starts in: skipped (a duplicate, or a job its dependencies make needless),
#: cancelled (one its dependencies failed) or waiting; the first two are finished at once.
INSERT = """
INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, max_attempts, run_at,
    finished_at, fingerprint, unique_mode, lane, lane_limit, retention_s, expires_at,
    duplicate_of, skip_reason, idempotency_key, recurring_id, fire_at, rate_key, rate_limit,
    rate_window_s, rate_fixed, workflow_id, waiting_on, failed_dependencies, dependency_rule,
    tolerate, results_into, results_shape, error, trace_context)
SELECT %(id)s::text, %(name)s::text, %(queue)s::text, %(priority)s::int,
    coalesce(%(state)s::text, CASE WHEN t.run_at > now() THEN 'scheduled' ELSE 'pending' END),
    %(args)s::jsonb, %(max_attempts)s::int, t.run_at,
    CASE WHEN %(state)s::text IN ('skipped', 'cancelled') THEN now() END,
    %(fingerprint)s::text, %(unique)s::text, %(lane)s::text, %(lane_limit)s::int,
    %(retention_s)s::float8,
    CASE WHEN %(state)s::text IN ('skipped', 'cancelled')
         THEN now() + make_interval(secs => %(retention_s)s::float8) END,
    %(duplicate_of)s::text, %(reason)s::text, %(idempotency_key)s::text,
    %(recurring_id)s::text, %(fire_at)s::timestamptz, %(rate_key)s::text,
    %(rate_limit)s::int, %(rate_window_s)s::float8, %(rate_fixed)s::bool,
    %(workflow_id)s::text, %(waiting_on)s::int, %(failed_dependencies)s::int,
    %(dependency_rule)s::text, %(tolerate)s::int, %(results_into)s::text,
    %(results_shape)s::text,
    %(error)s::jsonb || jsonb_build_object('at', extract(epoch FROM now())::float8),
    %(trace_context)s::text
FROM (SELECT coalesce(%(run_at)s::timestamptz,
                      now() + make_interval(secs => %(delay_s)s::float8)) AS run_at) t
ON CONFLICT DO NOTHING
RETURNING *
"""
#: A batch of plain jobs from the rows of `{batch}`, inserted in batch order, with the NOTIFY
#: of each queue that got pending work sent by the same statement.
INSERT_PLAIN = """
WITH ins AS (
    INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, max_attempts, run_at,
        fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key, rate_limit,
        rate_window_s, rate_fixed, trace_context)
    SELECT j.id, j.name, j.queue, j.priority,
        CASE WHEN j.run_at > now() THEN 'scheduled' ELSE 'pending' END,
        j.args, j.max_attempts, j.run_at, j.fingerprint, j.unique_mode, j.lane, j.lane_limit,
        j.retention_s, j.rate_key, j.rate_limit, j.rate_window_s, j.rate_fixed, j.trace_context
    FROM (SELECT id, name, queue, priority, args, max_attempts,
                 coalesce(run_at, now() + make_interval(secs => delay_s)) AS run_at,
                 fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key, rate_limit,
                 rate_window_s, rate_fixed, trace_context
          FROM ({batch})
               AS t(id, name, queue, priority, args, max_attempts, run_at, delay_s,
                    fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key,
                    rate_limit, rate_window_s, rate_fixed, trace_context, n)
          ORDER BY n) j
    ON CONFLICT DO NOTHING
    RETURNING id, state, queue, created_at, run_at
),
woken AS (
    SELECT pg_notify(%(channel)s, queue) FROM (SELECT DISTINCT queue FROM ins
                                               WHERE state = 'pending') q
)
SELECT ins.* FROM ins, (SELECT count(*) FROM woken) w
"""
#: One plain job (each `app.enqueue` call) with a NOTIFY if it is pending: INSERT_PLAIN's
#: shape without the batch's ordering and DISTINCT, which cost a single row more than they
#: do a batch.
INSERT_ONE_PLAIN = """
WITH ins AS (
    INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, max_attempts, run_at,
        fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key, rate_limit,
        rate_window_s, rate_fixed, trace_context)
    SELECT j.id, j.name, j.queue, j.priority,
        CASE WHEN j.run_at > now() THEN 'scheduled' ELSE 'pending' END,
        j.args, j.max_attempts, j.run_at, j.fingerprint, j.unique_mode, j.lane, j.lane_limit,
        j.retention_s, j.rate_key, j.rate_limit, j.rate_window_s, j.rate_fixed, j.trace_context
    FROM (SELECT id, name, queue, priority, args, max_attempts,
                 coalesce(run_at, now() + make_interval(secs => delay_s)) AS run_at,
                 fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key, rate_limit,
                 rate_window_s, rate_fixed, trace_context
          FROM (SELECT %(ids)s::text, %(names)s::text, %(queues)s::text, %(priorities)s::int,
                       %(args)s::jsonb, %(max_attempts)s::int, %(run_ats)s::timestamptz,
                       %(delays)s::float8, %(fingerprints)s::text, %(uniques)s::text,
                       %(lanes)s::text, %(lane_limits)s::int, %(retentions)s::float8,
                       %(rate_keys)s::text, %(rate_limits)s::int, %(rate_windows)s::float8,
                       %(rate_fixeds)s::bool, %(trace_contexts)s::text)
               AS t(id, name, queue, priority, args, max_attempts, run_at, delay_s,
                    fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key,
                    rate_limit, rate_window_s, rate_fixed, trace_context)) j
    ON CONFLICT DO NOTHING
    RETURNING id, state, queue, created_at, run_at
)
SELECT id, state, created_at, run_at,
    CASE WHEN state = 'pending' THEN pg_notify(%(channel)s, queue) END AS notified
FROM ins
"""
#: The plain insert's input columns and their types, in the order the statements read them.
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
    "rate_keys": "text",
    "rate_limits": "int",
    "rate_windows": "float8",
    "rate_fixeds": "bool",
    "trace_contexts": "text",
}
#: Same-fingerprint join/skip (and bounded unique="queue") enqueuers queue up here, so each
#: sees the one before it commit.
FINGERPRINT_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
#: What FINGERPRINT_LOCK locks: this, then the fingerprint.
FINGERPRINT_LOCK_PREFIX = "underway:fingerprint:"
#: The job of an active (or, with unique_for, recently completed) duplicate: of fingerprint
#: FINGERPRINT, completed within WINDOW seconds (negative: none).
DUPLICATE_OF = """
SELECT * FROM {schema}.jobs
WHERE fingerprint = FINGERPRINT AND unique_mode IN ('join', 'skip')
  AND (state IN ('pending', 'running', 'scheduled', 'waiting')
       OR (state = 'completed' AND finished_at >= now() - make_interval(secs => WINDOW)))
ORDER BY (state = 'completed'), finished_at DESC
LIMIT 1
"""
ACTIVE_DUPLICATE = DUPLICATE_OF.replace("FINGERPRINT", "%s").replace("WINDOW", "%s")
#: The runs of a unique="queue" job of fingerprint FINGERPRINT that wait.
WAITING_RUNS = """{schema}.jobs
WHERE fingerprint = FINGERPRINT AND unique_mode = 'queue' AND state IN ('pending', 'scheduled')"""
#: How many runs of a unique="queue" job wait with these arguments, and the first of them.
WAITING_SAME = "SELECT count(*) AS n, min(id) AS first FROM " + WAITING_RUNS.replace(
    "FINGERPRINT", "%s"
)
BY_IDEMPOTENCY_KEY = "SELECT * FROM {schema}.jobs WHERE idempotency_key = %s"
SAME_TICK = "SELECT * FROM {schema}.jobs WHERE recurring_id = %s AND fire_at = %s"


class IdTaken(Exception):
    """A job of a bulk insert has an id (or an active fingerprint) stored already, as by a
    retried call: store the jobs one by one."""


def duplicate_window(unique_for_s: float | None) -> float:
    """DUPLICATE_OF's WINDOW for a job's unique_for (None: only active jobs count)."""
    return -1.0 if unique_for_s is None else float(unique_for_s)


def insert_plain(varying: tuple[str, ...]) -> str:
    """INSERT_PLAIN with the `varying` columns as arrays and every other column as one value
    for all jobs (`batch_params`)."""
    return with_batch(INSERT_PLAIN, batch_select(PLAIN_TYPES, varying, numbered=True))


async def enqueue_plain(tx: Tx, jobs: Sequence[NewJob]) -> dict[str, EnqueueResult]:
    """Insert plain jobs in one round trip; the results of those inserted, by id.

    A job missing from the answer collided with a stored one (a retried call with the same
    id); `enqueue_one` resolves it.
    """
    rows = [plain_row(job) for job in jobs]
    varying, params = batch_params(PLAIN_TYPES, rows)
    params["channel"] = channel_name(tx.schema, "work")
    statement = INSERT_ONE_PLAIN if len(jobs) == 1 else insert_plain(varying)
    inserted = {row["id"]: row for row in await tx.rows(statement, params)}
    return {
        job.id: EnqueueResult.inserted(
            job, policy.STATES[row["state"]], row["created_at"], row["run_at"]
        )
        for job in jobs
        if (row := inserted.get(job.id)) is not None
    }


def plain_row(job: NewJob) -> tuple[Any, ...]:
    """A plain job as the values of PLAIN_TYPES."""
    return (
        job.id,
        job.name,
        job.queue,
        job.priority,
        args_text(job),
        job.max_attempts,
        job.run_at,
        float(job.delay_s),
        job.fingerprint,
        job.unique,
        job.lane,
        job.lane_limit,
        float(job.retention_s),
        job.rate_key,
        job.rate_limit,
        None if job.rate_window_s is None else float(job.rate_window_s),
        job.rate_fixed,
        job.trace_context,
    )


async def enqueue_one(tx: Tx, job: NewJob) -> EnqueueResult:
    """Store one job in the caller's transaction, or find the job it resolves to; a job
    that waits for others is stored with its edges (JobNotFound for an unknown id), one
    stored as itself with its followers."""
    args = args_text(job)
    if policy.checks_duplicates(job) or policy.checks_queue_limit(job):
        await tx.run(FINGERPRINT_LOCK, (f"{FINGERPRINT_LOCK_PREFIX}{job.fingerprint}",))
    for _ in range(INSERT_ROUNDS):
        existing = await _existing(tx, job, args)
        if existing is not None:
            return existing
        waits = None
        if job.after:
            waits = dependency_rules.waits_of(job, await dependencies.states_of(tx, job.after))
        row = await tx.row(INSERT, _insert_params(job, args, waits=waits))
        if row is not None:
            if row["state"] == JobState.PENDING.value:
                await notify(tx, "work", job.queue)
            if waits is not None:
                await dependencies.insert_edges(tx, [(job, waits)])
            for follower in job.followers:
                await enqueue_one(tx, follower)
            return EnqueueResult(job=reads.job(row))
        conflict = await _conflict(tx, job)
        if conflict is not None:
            return conflict
    raise StorageUnavailable(f"job {job.name}: enqueue kept conflicting with finishing jobs")


async def _existing(tx: Tx, job: NewJob, args: str) -> EnqueueResult | None:
    """The stored job this request resolves to: same idempotency key, an active duplicate, or
    the runs that fill its queue_limit (with a `skipped` row recorded if the job asks for
    one)."""
    if job.idempotency_key is not None:
        keyed = await reads.first(tx, BY_IDEMPOTENCY_KEY, (job.idempotency_key,))
        if keyed is not None:
            return policy.keyed_result(keyed)
    if policy.checks_queue_limit(job):
        waiting = await tx.row(WAITING_SAME, (job.fingerprint,))
        assert waiting is not None
        full = policy.queue_full_result(job, waiting["n"], waiting["first"])
        return None if full is None else await record_skip(tx, job, args, full)
    if not policy.checks_duplicates(job):
        return None
    window = duplicate_window(job.unique_for_s)
    active = await reads.first(tx, ACTIVE_DUPLICATE, (job.fingerprint, window))
    if active is None:
        return None
    decided = policy.duplicate_result(job, active)
    if isinstance(decided, EnqueueResult):
        return decided
    return await record_skip(tx, job, args, decided)


async def record_skip(
    tx: Tx, job: NewJob, args: str, skip: policy.RecordSkip
) -> EnqueueResult | None:
    """Store the request as a `skipped` row; if its cron tick is taken, that tick's job."""
    params = _insert_params(job, args, duplicate_of=skip.duplicate_of, reason=skip.reason)
    row = await tx.row(INSERT, params)
    if row is not None:
        return EnqueueResult(job=reads.job(row), skipped=True)
    return policy.conflict_result(None, await _same_tick(tx, job))


async def _conflict(tx: Tx, job: NewJob) -> EnqueueResult | None:
    """What an insert collided with: this very job (a retried call) or the same cron tick."""
    same = await reads.get(tx, job.id)
    return policy.conflict_result(same, None if same is not None else await _same_tick(tx, job))


async def _same_tick(tx: Tx, job: NewJob) -> Job | None:
    if job.recurring_id is None:
        return None
    return await reads.first(tx, SAME_TICK, (job.recurring_id, job.fire_at))


def args_text(job: NewJob) -> str:
    """A job's arguments as jsonb text; ValidationError if PostgreSQL cannot store them."""
    try:
        return jsonb_text(job.args)
    except UnstorableValue as exc:
        raise ValidationError(job.name, [{"loc": ("args",), "msg": str(exc)}]) from None


def _insert_params(
    job: NewJob,
    args: str,
    *,
    duplicate_of: str | None = None,
    reason: str | None = None,
    waits: dependency_rules.Waits | None = None,
) -> dict[str, Any]:
    skipped = duplicate_of is not None
    state = JobState.SKIPPED if skipped else None if waits is None else waits.state
    if waits is not None and waits.verdict == "skipped":
        reason = dependency_rules.NONE_FAILED
    return {
        **dependency_params(job, waits),
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "priority": job.priority,
        "state": None if state is None else state.value,
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
        "rate_key": job.rate_key,
        "rate_limit": job.rate_limit,
        "rate_window_s": job.rate_window_s,
        "rate_fixed": job.rate_fixed,
        "trace_context": job.trace_context,
    }


def dependency_params(job: NewJob, waits: dependency_rules.Waits | None) -> dict[str, Any]:
    """The values of the dependency columns of a new job's row, with the error of one that
    its dependencies cancel: a job stored without edges has no dependency rule."""
    error = None
    if waits is not None and waits.verdict == "cancelled":
        error = error_jsonb(dependency_rules.dependency_failed(waits.failed, job.tolerate))
    return {
        "workflow_id": job.workflow_id,
        "waiting_on": 0 if waits is None else waits.waiting_on,
        "failed_dependencies": 0 if waits is None else waits.failed,
        "dependency_rule": None if waits is None else job.dependency_rule,
        "tolerate": job.tolerate,
        "results_into": job.results_into,
        "results_shape": job.results_shape,
        "error": error,
    }
