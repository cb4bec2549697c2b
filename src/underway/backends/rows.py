"""Turning stored rows into models, shared by the backends."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..models import ClaimedJob, Job, JobState, QueueInfo, Recurring
from .codecs import error_from_data
from .policy import STATES

WhenReader = Callable[[Any], datetime | None]
DataReader = Callable[[Any], Any]


#: How both backends store a job that has not failed yet.
NO_ERRORS: tuple[Any, ...] = ("[]", [], None)


def claimed_from_row(row: Mapping[str, Any], data: DataReader) -> ClaimedJob:
    """What a worker needs of a job it just claimed, from the claim's answer."""
    return ClaimedJob(
        row["id"], row["name"], data(row["args"]), row["attempt"], row["max_attempts"]
    )


def job_from_row(row: Mapping[str, Any], when: WhenReader, data: DataReader) -> Job:
    """Build a Job from a row of the jobs table."""
    created = when(row["created_at"])
    run_at = when(row["run_at"])
    assert created is not None
    assert run_at is not None
    stored_errors = row["errors"]
    errors = [] if stored_errors in NO_ERRORS else (data(stored_errors) or [])
    return Job(
        id=str(row["id"]),
        name=row["name"],
        queue=row["queue"],
        priority=row["priority"],
        state=STATES[row["state"]],
        args=data(row["args"]),
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        created_at=created,
        run_at=run_at,
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
        heartbeat_at=when(row["heartbeat_at"]),
        worker_id=row["worker_id"],
        progress=float(row["progress"]),
        message=row["message"],
        result=data(row["result"]),
        error=error_from_data(data(row["error"])),
        errors=tuple(e for e in (error_from_data(x) for x in errors) if e is not None),
        fingerprint=row["fingerprint"],
        unique=row["unique_mode"],
        lane=row["lane"],
        cancel_requested=bool(row["cancel_requested"]),
        retention_s=float(row["retention_s"]),
        log_count=row["log_count"],
        logs_dropped=row["logs_dropped"],
        duplicate_of=None if row["duplicate_of"] is None else str(row["duplicate_of"]),
        skip_reason=row["skip_reason"],
        recurring_id=None if row["recurring_id"] is None else str(row["recurring_id"]),
        fire_at=when(row.get("fire_at")),
        losses=row["losses"],
        snoozes=row["snoozes"],
        rate_key=row["rate_key"],
    )


def recurring_from_row(row: Mapping[str, Any], when: WhenReader, data: DataReader) -> Recurring:
    """Build a Recurring from a row of the recurring table joined with its last job's state."""
    created = when(row["created_at"])
    assert created is not None
    state = row["last_job_state"]
    return Recurring(
        id=str(row["id"]),
        name=row["name"],
        job_name=row["job_name"],
        cron=row["cron"],
        timezone=row["timezone"],
        args=data(row["args"]),
        enabled=bool(row["enabled"]),
        overlap=row["overlap"],
        catch_up=row["catch_up"],
        from_code=bool(row["from_code"]),
        created_at=created,
        next_fire_at=when(row["next_fire_at"]),
        last_fire_at=when(row["last_fire_at"]),
        last_job_id=row["last_job_id"],
        last_job_state=None if state is None else JobState(state),
    )


def queue_infos_from_rows(
    settings: Iterable[Mapping[str, Any]],
    job_counts: Iterable[Mapping[str, Any]],
    workers: Iterable[tuple[str, Sequence[str]]],
    when: WhenReader,
) -> list[QueueInfo]:
    """Every queue named by a row of the queues table, a count of its jobs or a live worker,
    by name: `job_counts` rows are (queue, state, n, oldest_waiting_at, started) and
    `workers` pairs are (worker id, the queues it serves)."""
    rows = {row["name"]: row for row in settings}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    oldest: dict[str, datetime] = {}
    started: Counter[str] = Counter()
    for row in job_counts:
        queue = row["queue"]
        counts[queue][row["state"]] = int(row["n"])
        started[queue] += int(row["started"])
        waiting = when(row["oldest_waiting_at"])
        if waiting is not None and (queue not in oldest or waiting < oldest[queue]):
            oldest[queue] = waiting
    serving: dict[str, list[str]] = defaultdict(list)
    for worker_id, queues in workers:
        for queue in queues:
            serving[queue].append(worker_id)
    return [
        QueueInfo(
            name=name,
            **_queue_settings(rows.get(name), when),
            counts=counts[name],
            oldest_waiting_at=oldest.get(name),
            started_last_minute=started[name],
            workers=tuple(serving[name]),
        )
        for name in sorted({*rows, *counts, *serving})
    ]


def _queue_settings(row: Mapping[str, Any] | None, when: WhenReader) -> dict[str, Any]:
    """A queue's limits and pause from its row; none for a queue without one."""
    if row is None:
        return {}
    window = row["rate_window_s"]
    return {
        "paused": bool(row["paused"]),
        "paused_at": when(row["paused_at"]),
        "paused_by": row["paused_by"],
        "concurrency": row["concurrency"],
        "rate_limit": row["rate_limit"],
        "rate_window_s": None if window is None else float(window),
        "rate_fixed": bool(row["rate_fixed"]),
    }
