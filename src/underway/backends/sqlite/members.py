"""Storing a workflow's jobs on SQLite: in bulk, one executemany per table, when none needs a
lookup first, each in the state that the jobs it waits for give it (stored before, or earlier
in the same call); else one by one, as `enqueue` stores any job."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ...models import EnqueueResult, Job, JobState, NewJob
from .. import dependency_rules, policy
from ..codecs import epoch_to_datetime, error_from_data, json_text_to_data
from . import dependencies
from .enqueue import dependency_values, enqueue_one, rate_values, row_values, start_of

#: enqueue.INSERT for many jobs, with one executemany: their results need no read back.
INSERT_MEMBER = """
INSERT INTO underway_jobs (id, name, queue, priority, state, args, max_attempts,
    created_at, run_at, finished_at, fingerprint, unique_mode, lane, lane_limit, retention_s,
    expires_at, duplicate_of, skip_reason, idempotency_key, recurring_id, fire_at, rate_key,
    rate_limit, rate_window_s, rate_fixed, workflow_id, waiting_on, failed_dependencies,
    dependency_rule, tolerate, results_into, results_shape, error, trace_context)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
    ?, ?, ?, ?, ?)
"""


def enqueue_members(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult]:
    """Store jobs given in an order where each comes after those it waits for: in bulk if
    none needs a lookup and no id is taken (else one by one: a retried call resolves to the
    jobs it stored); then the followers of those stored. JobNotFound for an `after` id that
    names no job before it."""
    if any(policy.needs_lookup(job) for job in jobs):
        return _one_by_one(conn, jobs, now)
    conn.execute("SAVEPOINT members")
    try:
        stored = _insert_members(conn, jobs, now)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO members")
        stored = _one_by_one(conn, jobs, now)
    finally:
        conn.execute("RELEASE members")
    return stored


def _one_by_one(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult]:
    """Each job stored on its own; one that joined an active job stands for it."""
    stored_as: dict[str, str] = {}
    results = []
    for job in jobs:
        result = enqueue_one(conn, dependency_rules.standing_in(job, stored_as), now)
        if result.id != job.id:
            stored_as[job.id] = result.id
        results.append(result)
    return results


def _insert_members(
    conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
) -> list[EnqueueResult]:
    given = {job.id for job in jobs}
    stored_before = sorted({i for job in jobs for i in job.after if i not in given})
    states = dependencies.states_of(conn, stored_before) if stored_before else {}
    created = epoch_to_datetime(now)
    assert created is not None
    rows: list[tuple[Any, ...]] = []
    edges: list[tuple[NewJob, dependency_rules.Waits]] = []
    results: list[EnqueueResult] = []
    for job in jobs:
        waits = dependency_rules.waits_of(job, states) if job.after else None
        state, run_at, values = row_values(job, now, *start_of(waits))
        extra = dependency_values(job, waits, now)
        rows.append((*values, *rate_values(job), *extra, job.trace_context))
        states[job.id] = state.value
        if waits is not None:
            edges.append((job, waits))
        when = created if run_at == now else datetime.fromtimestamp(run_at, UTC)
        results.append(StoredMember.of(job, state, created, when, extra))
    conn.executemany(INSERT_MEMBER, rows)
    dependencies.insert_edges(conn, edges)
    followers = [follower for job in jobs for follower in job.followers]
    if followers:
        enqueue_members(conn, followers, now)
    return results


class StoredMember(EnqueueResult):
    """`EnqueueResult.inserted` of a job stored with dependency columns: the Job built on
    its first read has them too (building one per member would slow a big fan-out)."""

    __slots__ = ("_values",)
    #: The job's `dependency_values`, until its Job is built.
    _values: tuple[Any, ...] | None

    @classmethod
    def of(
        cls,
        new: NewJob,
        state: JobState,
        created_at: datetime,
        run_at: datetime,
        values: tuple[Any, ...],
    ) -> StoredMember:
        """The result of inserting `new` in `state` with `values` (`dependency_values`)."""
        result = cls.inserted(new, state, created_at, run_at)
        assert isinstance(result, StoredMember)
        result._values = values
        return result

    @property
    def job(self) -> Job:
        job = super().job
        if self._values is not None and self._inserted is not None:
            new = self._inserted[0]
            self._job = job = dataclasses.replace(job, **self._columns(job, new, self._values))
            self._values = None
        return job

    @staticmethod
    def _columns(job: Job, new: NewJob, values: tuple[Any, ...]) -> dict[str, Any]:
        """The fields of `job` that `EnqueueResult.inserted` leaves out, as stored."""
        workflow_id, waiting_on, failed, rule, tolerate, results_into, shape, error = values
        columns: dict[str, Any] = {
            "workflow_id": workflow_id,
            "waiting_on": waiting_on,
            "failed_dependencies": failed,
            "dependency_rule": rule,
            "tolerate": tolerate,
            "results_into": results_into,
            "results_shape": shape,
            "rate_key": new.rate_key,
        }
        if job.state.is_finished:
            columns["finished_at"] = job.created_at
            columns["error"] = error_from_data(json_text_to_data(error))
        if job.state is JobState.SKIPPED:
            columns["skip_reason"] = dependency_rules.NONE_FAILED
        return columns
