"""The worker's side on PostgreSQL: claim, heartbeat, progress, finish and requeue, all fenced."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from ...models import ClaimedJob, JobError, Lease, Outcome, ProgressUpdate, WorkerInfo
from ..codecs import error_to_data
from ..policy import LANE_SCAN, claim_order
from . import reads
from .connection import channel_name
from .tx import Row, Tx, batch_params, batch_select
from .values import UnstorableValue, clean_data, clean_text, jsonb_text


def fenced(job_id: str, attempt: str, worker: str, and_also: str = "") -> str:
    """The condition that a lease still holds: the row found by its id, then its attempt,
    worker and state (and `and_also`, if given) checked in one CASE. As plain conditions, a
    generic plan took them to read all of the worker's running jobs through jobs_running (its
    statistics taken while few ran): one progress write with 30,000 running read them all
    (9.7 ms)."""
    also = f" AND {and_also}" if and_also else ""
    return (
        f"id = {job_id} AND CASE WHEN attempt = {attempt} AND worker_id = {worker} "
        f"AND state = 'running'{also} THEN true ELSE false END"
    )


FENCE = fenced("%(id)s", "%(attempt)s", "%(worker)s")
NOW_EPOCH = "extract(epoch FROM now())::float8"
#: The error stored when a cancel request wins over how the attempt ended.
CANCELLED_ERROR = (
    "jsonb_build_object('type', 'Cancelled', 'message', 'cancelled by request', "
    f"'traceback', '', 'attempt', 0, 'at', {NOW_EPOCH})"
)
#: Ready jobs of the queues a claim serves; QUEUES is where the queue must be.
READY_IN = "state IN ('pending', 'scheduled') AND run_at <= now() AND queue QUEUES"
READY = READY_IN.replace("QUEUES", "= ANY(%(queues)s)")
#: Serialises laned claims, so that lane counts cannot be overtaken by a concurrent claimer.
LANE_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('underway:lanes:' || %s, 0))"


#: The first `limit` plain jobs of the queue named QUEUE (its part of the ready index).
QUEUE_FIRST_PLAIN = """SELECT id, seq, priority, run_at FROM {schema}.jobs WHERE queue = QUEUE
         AND state IN ('pending', 'scheduled') AND lane IS NULL AND run_at <= now()
         ORDER BY priority DESC, run_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED"""
#: Each queue's first plain jobs, the first `limit` of them.
FIRST_PLAIN = f"""
SELECT c.id, c.seq, c.priority, c.run_at FROM unnest(%(queues)s::text[]) AS q(name),
LATERAL ({QUEUE_FIRST_PLAIN.replace("QUEUE", "q.name")}) AS c
ORDER BY c.priority DESC, c.run_at, c.seq LIMIT %(limit)s
"""
START = (
    "SET state = 'running', attempt = attempt + 1, worker_id = %(worker)s, "
    "started_at = now(), heartbeat_at = now(), progress = 0, message = NULL"
)
#: What a claim returns: the attempt's columns, and the claim order's.
CLAIMED = "id, name, args, attempt, max_attempts, seq, priority, run_at"
CLAIMED_FROM_J = ", ".join(f"j.{column}" for column in CLAIMED.split(", "))
#: The claim in one statement, for when no laned job is ready (it claims nothing otherwise).
#: It answers at least one row: `laned_waiting`, and the claimed job's columns (or NULLs).
CLAIM_PLAIN_TEMPLATE = f"""
WITH laned AS (SELECT EXISTS (SELECT 1 FROM {{schema}}.jobs WHERE READY
                             AND lane IS NOT NULL) AS waiting),
chosen AS (FIRST),
-- = ANY(ARRAY(...)), not a join: a generic plan, not knowing the LIMIT, would hash every
-- waiting row to join them.
claimed AS (UPDATE {{schema}}.jobs AS j {START}
            WHERE j.id = ANY(ARRAY(SELECT id FROM chosen))
              AND j.state IN ('pending', 'scheduled') AND NOT (SELECT waiting FROM laned)
            RETURNING {CLAIMED_FROM_J})
SELECT laned.waiting AS laned_waiting, claimed.* FROM laned LEFT JOIN claimed ON true
"""
CLAIM_PLAIN = CLAIM_PLAIN_TEMPLATE.replace("READY", READY).replace("FIRST", FIRST_PLAIN.strip())
#: CLAIM_PLAIN for a worker that serves one queue. The queue list's length is unknown to a
#: generic plan, which then costs more than a plan made for the list at hand, so PostgreSQL
#: planned CLAIM_PLAIN anew for every claim: with one job waiting, half the claim's time.
CLAIM_PLAIN_ONE_QUEUE = CLAIM_PLAIN_TEMPLATE.replace(
    "READY", READY_IN.replace("QUEUES", "= %(queue)s")
).replace("FIRST", QUEUE_FIRST_PLAIN.replace("QUEUE", "%(queue)s"))


async def claim_plain(
    tx: Tx, worker_id: str, queues: list[str], limit: int
) -> tuple[list[ClaimedJob], bool]:
    """The common claim as one statement (one round trip, no transaction block needed).

    It claims only while no laned job is ready, so that lanes and priorities are never
    overtaken. Returns the claimed jobs, and whether laned jobs wait (then use `claim`).
    """
    if len(queues) == 1:
        one = {"worker": worker_id, "queue": queues[0], "limit": limit}
        rows = await tx.rows(CLAIM_PLAIN_ONE_QUEUE, one)
    else:
        rows = await tx.rows(CLAIM_PLAIN, {"worker": worker_id, "queues": queues, "limit": limit})
    laned_waiting = bool(rows and rows[0]["laned_waiting"])
    return _in_claim_order([row for row in rows if row["seq"] is not None]), laned_waiting


def _in_claim_order(rows: list[Row]) -> list[ClaimedJob]:
    return [reads.claimed(row) for row in sorted(rows, key=claim_order)]


async def claim(tx: Tx, worker_id: str, queues: list[str], limit: int) -> list[ClaimedJob]:
    """Mark up to `limit` ready jobs running: priority DESC, run_at, seq; lanes within limits.

    The ranked claim, for when laned jobs are ready (`claim_plain` said so).
    """
    params = {"worker": worker_id, "queues": queues, "limit": limit}
    # Each queue's first jobs, walking its part of the ready index (queue first in the index,
    # so other queues' backlogs cost nothing).
    plain = await tx.rows(FIRST_PLAIN, params)
    laned = await _laned_candidates(tx, params)
    chosen = sorted(plain + laned, key=claim_order)[:limit]
    if not chosen:
        return []
    rows = await tx.rows(
        f"UPDATE {{schema}}.jobs {START} "
        f"WHERE id = ANY(%(ids)s) AND state IN ('pending', 'scheduled') RETURNING {CLAIMED}",
        {**params, "ids": [row["id"] for row in chosen]},
    )
    return _in_claim_order(rows)


RANKED_IN_LANES = """
WITH running AS (SELECT lane, count(*) AS n FROM {schema}.jobs
                 WHERE state = 'running' AND lane IS NOT NULL GROUP BY lane),
ready AS (SELECT id, seq, priority, run_at, lane, lane_limit FROM {schema}.jobs
          WHERE READY AND lane IS NOT NULL ORDER BY priority DESC, run_at, seq SCAN),
ranked AS (SELECT ready.*, row_number() OVER
           (PARTITION BY lane ORDER BY priority DESC, run_at, seq) AS rn FROM ready)
SELECT ranked.id, ranked.seq, ranked.priority, ranked.run_at FROM ranked
LEFT JOIN running ON running.lane = ranked.lane
WHERE ranked.rn <= ranked.lane_limit - coalesce(running.n, 0)
ORDER BY ranked.priority DESC, ranked.run_at, ranked.seq LIMIT %(limit)s
""".replace("READY", READY)


async def _laned_candidates(tx: Tx, params: dict[str, Any]) -> list[Row]:
    """The first ready jobs of lanes with free slots, under the lane lock.

    The first LANE_SCAN laned jobs in claim order are ranked first (each lane's earliest jobs
    are among them, so ranks are right); only if they give fewer than `limit` and more exist
    is the whole backlog ranked, so the answer is the same as ranking everything.
    """
    await tx.run(LANE_LOCK, (tx.schema,))
    prefix = {**params, "scan": LANE_SCAN}
    found = await tx.rows(RANKED_IN_LANES.replace("SCAN", "LIMIT %(scan)s"), prefix)
    if len(found) >= params["limit"] or not await _more_laned_than(tx, prefix):
        return found
    return await tx.rows(RANKED_IN_LANES.replace("SCAN", ""), params)


async def _more_laned_than(tx: Tx, params: dict[str, Any]) -> bool:
    row = await tx.row(
        f"SELECT count(*) AS n FROM (SELECT 1 FROM {{schema}}.jobs WHERE {READY} "
        "AND lane IS NOT NULL LIMIT %(scan)s + 1) first",
        params,
    )
    return row is not None and int(row["n"]) > int(params["scan"])


RENEWED_WITHIN_MAX_AGE = (
    "(%(max_age)s::float8 IS NULL "
    "OR heartbeat_at > now() - make_interval(secs => %(max_age)s::float8))"
)
#: Renew exactly the leases named, each found by its id (as `fenced`) and renewed only while
#: it still holds and was renewed within max_age_s: a heartbeat that reaches the database late
#: (sent before a partition, delivered after it) revives no lease its worker has given up.
RENEW_LEASES = f"""
UPDATE {{schema}}.jobs SET heartbeat_at = now()
FROM unnest(%(ids)s::text[], %(attempts)s::int[]) AS l(l_id, l_attempt)
WHERE {fenced("l_id", "l_attempt", "%(worker)s", RENEWED_WITHIN_MAX_AGE)}
RETURNING id, attempt
"""


async def heartbeat(
    tx: Tx, worker: WorkerInfo, leases: Sequence[Lease], max_age_s: float | None
) -> set[str]:
    """Register the worker as alive, renew the leases it holds, report those not renewed."""
    await tx.run(
        "INSERT INTO {schema}.workers (id, hostname, pid, queues, concurrency, started_at, "
        "heartbeat_at) VALUES (%s, %s, %s, %s, %s, %s, now()) "
        "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        (
            worker.id,
            worker.hostname,
            worker.pid,
            Jsonb(list(worker.queues)),
            worker.concurrency,
            worker.started_at,
        ),
    )
    if not leases:
        return set()
    # In id order, so that two heartbeats never lock the same rows in opposite orders.
    ordered = sorted(leases, key=lambda lease: lease.job_id)
    rows = await tx.rows(
        RENEW_LEASES,
        {
            "ids": [lease.job_id for lease in ordered],
            "attempts": [lease.attempt for lease in ordered],
            "worker": worker.id,
            "max_age": max_age_s,
        },
    )
    renewed = {(row["id"], row["attempt"]) for row in rows}
    return {lease.job_id for lease in leases if (lease.job_id, lease.attempt) not in renewed}


async def save_progress(tx: Tx, update: ProgressUpdate, max_log_entries: int) -> bool:
    """Write one attempt's buffered progress and logs; False if its lease is gone. It renews
    no lease: only heartbeats do, so that a late write cannot revive a lease given up."""
    lease = update.lease
    row = await tx.row(
        f"SELECT log_count FROM {{schema}}.jobs WHERE {FENCE} FOR UPDATE", _fence(lease)
    )
    if row is None:
        return False
    count = row["log_count"]
    kept = update.logs[: max(0, max_log_entries - count)]
    await tx.many(
        "INSERT INTO {schema}.job_logs (job_id, seq, at, level, message) "
        "VALUES (%s, %s, %s, %s, %s)",
        [
            (lease.job_id, count + i + 1, e.at, clean_text(e.level), clean_text(e.message))
            for i, e in enumerate(kept)
        ],
    )
    await tx.run(
        "UPDATE {schema}.jobs SET progress = coalesce(%s, progress), "
        "message = coalesce(%s, message), log_count = log_count + %s, "
        "logs_dropped = logs_dropped + %s WHERE id = %s",
        (
            update.progress,
            clean_text(update.message),
            len(kept),
            len(update.logs) - len(kept) + update.dropped,
            lease.job_id,
        ),
    )
    return True


#: One statement for a batch of outcomes, each fenced; a cancel request turns any outcome
#: into `cancelled`. The outcome columns are prefixed so none shadows a column of jobs.
#: Each outcome finds its job by id (`fenced`): 50 outcomes with 30,000 running took 31 ms
#: through jobs_running, 3 ms by id.
FINISH_MANY = f"""
UPDATE {{schema}}.jobs SET
    state = CASE WHEN cancel_requested THEN 'cancelled'
                 WHEN o_kind <> 'retry' THEN o_kind
                 WHEN o_delay > 0 THEN 'scheduled' ELSE 'pending' END,
    run_at = CASE WHEN o_kind = 'retry' AND NOT cancel_requested
                  THEN now() + make_interval(secs => o_delay) ELSE run_at END,
    worker_id = CASE WHEN o_kind = 'retry' AND NOT cancel_requested
                     THEN NULL ELSE worker_id END,
    heartbeat_at = CASE WHEN o_kind = 'retry' AND NOT cancel_requested
                        THEN NULL ELSE heartbeat_at END,
    result = CASE WHEN o_kind = 'completed' AND NOT cancel_requested THEN o_result END,
    error = CASE WHEN cancel_requested THEN {CANCELLED_ERROR}
                 ELSE o_error || jsonb_build_object('at', {NOW_EPOCH}) END,
    errors = errors || CASE WHEN o_error IS NULL THEN '[]'::jsonb
        ELSE jsonb_build_array(o_error || jsonb_build_object('at', {NOW_EPOCH})) END,
    progress = CASE WHEN o_kind = 'completed' AND NOT cancel_requested
                    THEN 100 ELSE progress END,
    finished_at = CASE WHEN o_kind = 'retry' AND NOT cancel_requested
                       THEN finished_at ELSE now() END,
    expires_at = CASE WHEN o_kind = 'retry' AND NOT cancel_requested
                      THEN expires_at ELSE now() + make_interval(secs => retention_s) END
FROM (OUTCOMES) AS o(o_id, o_attempt, o_worker, o_kind, o_delay, o_result, o_error)
WHERE {fenced("o_id", "o_attempt", "o_worker")}
RETURNING id, attempt, state, lane
"""
#: Finished job ids per "finished" notification (36-character UUIDs: well under the 8,000-byte
#: payload limit).
IDS_PER_NOTIFY = 150
#: FINISH_MANY and its notifications as one statement: the ids of finished jobs, comma-joined,
#: on "finished", and a "work" wake-up if a retry is due now or a lane slot was freed.
FINISH_AND_NOTIFY = f"""
WITH done AS ({FINISH_MANY.strip()}),
told AS (SELECT pg_notify(%(finished_channel)s, string_agg(id, ','))
         FROM (SELECT id, (row_number() OVER ()) / {IDS_PER_NOTIFY} AS part FROM done
               WHERE state IN ('completed', 'failed', 'cancelled')) finished GROUP BY part),
woken AS (SELECT pg_notify(%(work_channel)s, '') FROM done
          WHERE state = 'pending' OR lane IS NOT NULL LIMIT 1)
SELECT done.* FROM done, (SELECT count(*) FROM told) t, (SELECT count(*) FROM woken) w
"""
#: The outcome columns and their types, in the order FINISH_MANY names them.
OUTCOME_TYPES = {
    "ids": "text",
    "attempts": "int",
    "workers": "text",
    "kinds": "text",
    "delays": "float8",
    "results": "jsonb",
    "errors": "jsonb",
}


@functools.lru_cache(maxsize=64)
def finish_and_notify(varying: tuple[str, ...]) -> str:
    """FINISH_AND_NOTIFY with the `varying` outcome columns as arrays and the others as one
    value for the whole batch (`batch_params`)."""
    return FINISH_AND_NOTIFY.replace(
        "OUTCOMES", batch_select(OUTCOME_TYPES, varying, numbered=False)
    )


async def finish_many(tx: Tx, outcomes: Sequence[Outcome]) -> dict[tuple[str, int], Row]:
    """Record how attempts ended and notify, in one statement; rows by (id, attempt) of the
    leases still held."""
    values = []
    for outcome in outcomes:
        try:
            result = jsonb_text(outcome.result)
        except UnstorableValue as exc:
            unstorable = JobError(
                type="UnstorableResult", message=str(exc), attempt=outcome.lease.attempt
            )
            outcome = Outcome(outcome.lease, "failed", error=unstorable)
            result = "null"
        error = error_to_data(outcome.error)
        if error is not None:
            error.pop("at")
        lease = outcome.lease
        values.append(
            (
                lease.job_id,
                lease.attempt,
                lease.worker_id,
                outcome.kind,
                float(outcome.retry_delay_s),
                result,
                None if error is None else jsonb_text(clean_data(error)),
            )
        )
    varying, params = batch_params(OUTCOME_TYPES, values)
    params["finished_channel"] = channel_name(tx.schema, "finished")
    params["work_channel"] = channel_name(tx.schema, "work")
    rows = await tx.rows(finish_and_notify(varying), params)
    return {(row["id"], row["attempt"]): row for row in rows}


async def requeue(tx: Tx, lease: Lease) -> str:
    """Give a running job back without counting the attempt (or cancel it if asked to).

    Returns the new state: pending, cancelled, or "" if the lease was already lost.
    """
    row = await tx.row(
        "UPDATE {schema}.jobs SET "
        "state = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END, "
        "attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt - 1 END, "
        "worker_id = CASE WHEN cancel_requested THEN worker_id END, "
        "heartbeat_at = CASE WHEN cancel_requested THEN heartbeat_at END, "
        "finished_at = CASE WHEN cancel_requested THEN now() END, "
        "expires_at = CASE WHEN cancel_requested THEN now() + make_interval(secs => retention_s) "
        f"END, error = CASE WHEN cancel_requested THEN {CANCELLED_ERROR} ELSE error END "
        f"WHERE {FENCE} RETURNING state",
        _fence(lease),
    )
    return "" if row is None else str(row["state"])


def _fence(lease: Lease) -> dict[str, Any]:
    return {"id": lease.job_id, "attempt": lease.attempt, "worker": lease.worker_id}
