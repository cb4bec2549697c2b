"""Turning stored rows into models, shared by the backends."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from ..models import ClaimedJob, Job, JobError, JobState, QueueInfo, Recurring
from ..workflow_models import DependencyOutcome
from .codecs import error_from_data
from .policy import STATES

WhenReader = Callable[[Any], datetime | None]
DataReader = Callable[[Any], Any]


#: How both backends store a job that has not failed yet.
NO_ERRORS: tuple[Any, ...] = ("[]", [], None)


def claimed_from_row(row: Mapping[str, Any], data: DataReader) -> ClaimedJob:
    """What a worker needs of a job it just claimed, from the claim's answer."""
    return new_claimed_job(
        row["id"],
        row["name"],
        data(row["args"]),
        row["attempt"],
        row["max_attempts"],
        row["dependency_rule"] is not None,
        None if row["workflow_id"] is None else str(row["workflow_id"]),
        row["queue"],
        epoch_of(row["run_at"]),
        row["trace_context"],
    )


def epoch_of(when: datetime | float) -> float:
    """Epoch seconds of a stored time: PostgreSQL answers a datetime, SQLite a number."""
    return when.timestamp() if isinstance(when, datetime) else float(when)


#: The columns of a stored job, in the order of Job's fields (see `job_from_values`).
JOB_COLUMNS = (
    "id",
    "name",
    "queue",
    "priority",
    "state",
    "args",
    "attempt",
    "max_attempts",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "worker_id",
    "progress",
    "message",
    "result",
    "error",
    "errors",
    "fingerprint",
    "unique_mode",
    "lane",
    "cancel_requested",
    "retention_s",
    "log_count",
    "logs_dropped",
    "duplicate_of",
    "skip_reason",
    "recurring_id",
    "fire_at",
    "losses",
    "snoozes",
    "rate_key",
    "workflow_id",
    "waiting_on",
    "failed_dependencies",
    "dependency_rule",
    "tolerate",
    "results_into",
    "results_shape",
)


T = TypeVar("T")


def unfrozen_builder(cls: type[T]) -> Callable[..., T]:
    """`cls(*values)` for a frozen, slotted dataclass, built on a class of its layout that is
    not frozen and then made the `cls` it is: a frozen dataclass sets each field through
    `object.__setattr__`, several times slower than a plain attribute store, which told on
    reads of thousands of rows (a drain's jobs, a fan-in's dependencies)."""
    fields = [(f.name, f.type) for f in dataclasses.fields(cast(Any, cls))]
    unfrozen: Any = dataclasses.make_dataclass(f"_{cls.__name__}Fields", fields, slots=True)

    def build(*values: Any) -> T:
        built = unfrozen(*values)
        built.__class__ = cls
        return cast(T, built)

    return build


#: `Job(*values)`, through `unfrozen_builder`.
new_job: Callable[..., Job] = unfrozen_builder(Job)
#: `ClaimedJob(*values)`, through `unfrozen_builder`: built for every job a worker claims.
new_claimed_job: Callable[..., ClaimedJob] = unfrozen_builder(ClaimedJob)
#: `DependencyOutcome(*values)`, through `unfrozen_builder`.
new_dependency_outcome: Callable[..., DependencyOutcome] = unfrozen_builder(DependencyOutcome)


def dependency_outcome(
    dependency_id: str, name: str | None, state: str | None, result: Any, error: Any
) -> DependencyOutcome:
    """How one job another depends on stands, from its row's values (result and error
    decoded); a pruned one (no row: no state) reads as cancelled."""
    if state is None:
        return new_dependency_outcome(dependency_id, "?", JobState.CANCELLED, None, None)
    failure = None if error is None else error_from_data(error)
    return new_dependency_outcome(dependency_id, name, STATES[state], result, failure)


def job_from_row(row: Mapping[str, Any], when: WhenReader, data: DataReader) -> Job:
    """Build a Job from a row of the jobs table."""
    return job_from_values([row[column] for column in JOB_COLUMNS], when, data)


def job_from_values(values: Sequence[Any], when: WhenReader, data: DataReader) -> Job:
    """Build a Job from the values of `JOB_COLUMNS`, in that order (a row read as a tuple,
    without a mapping to build first)."""
    (
        id_, name, queue, priority, state, args, attempt, max_attempts, created, run_at,
        started, finished, heartbeat, worker_id, progress, message, result, error,
        errors, fingerprint, unique, lane, cancel_requested, retention_s,
        log_count, logs_dropped, duplicate_of, skip_reason, recurring_id,
        fire_at, losses, snoozes, rate_key, workflow_id, waiting_on, failed_dependencies,
        dependency_rule, tolerate, results_into, results_shape,
    ) = values  # fmt: skip
    created, run_at = when(created), when(run_at)
    assert created is not None
    assert run_at is not None
    return new_job(
        str(id_),
        name,
        queue,
        priority,
        STATES[state],
        data(args),
        attempt,
        max_attempts,
        created,
        run_at,
        when(started),
        when(finished),
        when(heartbeat),
        worker_id,
        float(progress),
        message,
        data(result),
        None if error is None else error_from_data(data(error)),
        () if errors in NO_ERRORS else _errors(data(errors)),
        fingerprint,
        unique,
        lane,
        bool(cancel_requested),
        float(retention_s),
        log_count,
        logs_dropped,
        None if duplicate_of is None else str(duplicate_of),
        skip_reason,
        None if recurring_id is None else str(recurring_id),
        when(fire_at),
        losses,
        snoozes,
        rate_key,
        None if workflow_id is None else str(workflow_id),
        waiting_on,
        failed_dependencies,
        dependency_rule,
        tolerate,
        results_into,
        results_shape,
    )


def _errors(stored: Any) -> tuple[JobError, ...]:
    """A job's error history; entries that are not errors are left out."""
    return tuple(e for e in (error_from_data(x) for x in stored or []) if e is not None)


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
