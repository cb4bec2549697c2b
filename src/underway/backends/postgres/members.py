"""Storing a workflow's jobs on PostgreSQL: in bulk, one statement per table, when none
needs a lookup first, each in the state that the jobs it waits for give it (stored before,
or earlier in the same call); else one by one, as `enqueue` stores any job."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ...models import EnqueueResult, Job, JobState, NewJob
from .. import dependency_rules, policy
from ..codecs import error_from_data
from . import dependencies
from .connection import channel_name
from .enqueue import PLAIN_TYPES, IdTaken, dependency_params, enqueue_one, plain_row
from .tx import Row, Tx, batch_params, batch_select, with_batch

#: Jobs of a workflow from the rows of `{batch}`, inserted in batch order, each in the state
#: its dependencies give it (`state`: NULL for pending or scheduled as run_at says) and
#: marked `awaited` if a later one waits for it, with the NOTIFY of each queue that got
#: pending work; nothing for a job whose id is taken.
INSERT_MEMBERS = """
WITH ins AS (
    INSERT INTO {schema}.jobs (id, name, queue, priority, state, args, max_attempts, run_at,
        finished_at, fingerprint, unique_mode, lane, lane_limit, retention_s, expires_at,
        skip_reason, rate_key, rate_limit, rate_window_s, rate_fixed, workflow_id, waiting_on,
        failed_dependencies, dependency_rule, tolerate, results_into, results_shape, error,
        awaited, trace_context)
    SELECT j.id, j.name, j.queue, j.priority,
        coalesce(j.state, CASE WHEN j.run_at > now() THEN 'scheduled' ELSE 'pending' END),
        j.args, j.max_attempts, j.run_at,
        CASE WHEN j.state IN ('skipped', 'cancelled') THEN now() END,
        j.fingerprint, j.unique_mode, j.lane, j.lane_limit, j.retention_s,
        CASE WHEN j.state IN ('skipped', 'cancelled')
             THEN now() + make_interval(secs => j.retention_s) END,
        j.skip_reason, j.rate_key, j.rate_limit, j.rate_window_s, j.rate_fixed, j.workflow_id,
        j.waiting_on, j.failed_dependencies, j.dependency_rule, j.tolerate, j.results_into,
        j.results_shape, j.error || jsonb_build_object('at', extract(epoch FROM now())::float8),
        j.awaited, j.trace_context
    FROM (SELECT t.*, coalesce(t.run_at_given, now() + make_interval(secs => t.delay_s))
                      AS run_at
          FROM ({batch})
               AS t(id, name, queue, priority, args, max_attempts, run_at_given, delay_s,
                    fingerprint, unique_mode, lane, lane_limit, retention_s, rate_key,
                    rate_limit, rate_window_s, rate_fixed, trace_context, workflow_id, state,
                    waiting_on, failed_dependencies, dependency_rule, tolerate, results_into,
                    results_shape, error, skip_reason, awaited, n)
          ORDER BY n) j
    ON CONFLICT DO NOTHING
    RETURNING id, state, queue, created_at, run_at, error
),
woken AS (
    SELECT pg_notify(%(channel)s, queue) FROM (SELECT DISTINCT queue FROM ins
                                               WHERE state = 'pending') q
)
SELECT ins.* FROM ins, (SELECT count(*) FROM woken) w
"""
#: INSERT_MEMBERS's input columns and their types, in the order it reads them: the plain
#: insert's (a member row extends `plain_row`), then the dependencies'.
MEMBER_TYPES = {
    **PLAIN_TYPES,
    "workflow_ids": "text",
    "states": "text",
    "waiting_ons": "int",
    "faileds": "int",
    "rules": "text",
    "tolerates": "int",
    "results_intos": "text",
    "results_shapes": "text",
    "errors": "jsonb",
    "skip_reasons": "text",
    "awaited": "bool",
}


#: The states a member is stored in that have not ended.
READY_OR_WAITING = frozenset({JobState.PENDING.value, JobState.WAITING.value})


async def enqueue_members(tx: Tx, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
    """Store jobs given in an order where each comes after those it waits for: in bulk if
    none needs a lookup and no id is taken (else one by one: a retried call resolves to the
    jobs it stored); then the followers of those stored. JobNotFound for an `after` id that
    names no job before it."""
    if not jobs:
        return []
    if not any(policy.needs_lookup(job) for job in jobs):
        try:
            async with tx.savepoint():
                return await _insert_members(tx, jobs)
        except IdTaken:
            pass
    return await _one_by_one(tx, jobs)


async def _one_by_one(tx: Tx, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
    """Each job stored on its own; one that joined an active job stands for it."""
    stored_as: dict[str, str] = {}
    results = []
    for job in jobs:
        result = await enqueue_one(tx, dependency_rules.standing_in(job, stored_as))
        if result.id != job.id:
            stored_as[job.id] = result.id
        results.append(result)
    return results


async def _insert_members(tx: Tx, jobs: Sequence[NewJob]) -> list[EnqueueResult]:
    given = {job.id for job in jobs}
    stored_before = [i for job in jobs for i in job.after if i not in given]
    states = await dependencies.states_of(tx, stored_before) if stored_before else {}
    waits: list[dependency_rules.Waits | None] = []
    for job in jobs:
        waited = dependency_rules.waits_of(job, states) if job.after else None
        # Only whether it ended counts for the jobs after it: a ready one is not ended.
        states[job.id] = ((waited and waited.state) or JobState.PENDING).value
        waits.append(waited)
    # Waited for by a later job, or by a follower (stored next, waiting for it).
    awaited = {i for job in jobs for i in job.after} | {j.id for j in jobs if j.followers}
    rows = [
        _member_row(job, waited, job.id in awaited and states[job.id] in READY_OR_WAITING)
        for job, waited in zip(jobs, waits, strict=True)
    ]
    varying, params = batch_params(MEMBER_TYPES, rows)
    params["channel"] = channel_name(tx.schema, "work")
    statement = with_batch(INSERT_MEMBERS, batch_select(MEMBER_TYPES, varying, numbered=True))
    inserted = {row["id"]: row for row in await tx.rows(statement, params)}
    if len(inserted) < len(jobs):
        raise IdTaken
    edges = [(job, waited) for job, waited in zip(jobs, waits, strict=True) if waited]
    await dependencies.insert_edges(tx, edges)
    followers = [follower for job in jobs for follower in job.followers]
    if followers:
        await enqueue_members(tx, followers)
    return [
        StoredMember.of(job, inserted[job.id], waited)
        for job, waited in zip(jobs, waits, strict=True)
    ]


def _member_row(
    job: NewJob, waits: dependency_rules.Waits | None, awaited: bool
) -> tuple[Any, ...]:
    """A job as the values of MEMBER_TYPES."""
    values = dependency_params(job, waits)
    state = None if waits is None else waits.state
    skipped = waits is not None and waits.verdict == "skipped"
    return (
        *plain_row(job),
        values["workflow_id"],
        None if state is None else state.value,
        values["waiting_on"],
        values["failed_dependencies"],
        values["dependency_rule"],
        values["tolerate"],
        values["results_into"],
        values["results_shape"],
        values["error"],
        dependency_rules.NONE_FAILED if skipped else None,
        awaited,
    )


class StoredMember(EnqueueResult):
    """`EnqueueResult.inserted` of a job stored with dependency columns: the Job built on
    its first read has them too (building one per member would slow a big fan-out)."""

    __slots__ = ("_completed", "_error", "_waits")
    #: How its dependencies stood when it was stored, and its error as stored; whether its
    #: Job has these columns yet.
    _waits: dependency_rules.Waits | None
    _error: Any
    _completed: bool

    @classmethod
    def of(cls, new: NewJob, row: Row, waits: dependency_rules.Waits | None) -> StoredMember:
        """The result of inserting `new` as INSERT_MEMBERS answered (`row`)."""
        result = cls.inserted(new, policy.STATES[row["state"]], row["created_at"], row["run_at"])
        assert isinstance(result, StoredMember)
        result._waits, result._error, result._completed = waits, row["error"], False
        return result

    @property
    def job(self) -> Job:
        job = super().job
        if not self._completed and self._inserted is not None:
            new = self._inserted[0]
            self._job = job = dataclasses.replace(job, **self._columns(job, new))
            self._completed = True
        return job

    def _columns(self, job: Job, new: NewJob) -> dict[str, Any]:
        """The fields of `job` that `EnqueueResult.inserted` leaves out, as stored."""
        waits = self._waits
        columns: dict[str, Any] = {
            "workflow_id": new.workflow_id,
            "waiting_on": 0 if waits is None else waits.waiting_on,
            "failed_dependencies": 0 if waits is None else waits.failed,
            "dependency_rule": None if waits is None else new.dependency_rule,
            "tolerate": new.tolerate,
            "results_into": new.results_into,
            "results_shape": new.results_shape,
            "rate_key": new.rate_key,
        }
        if job.state.is_finished:
            columns["finished_at"] = job.created_at
            columns["error"] = error_from_data(self._error)
        if job.state is JobState.SKIPPED:
            columns["skip_reason"] = dependency_rules.NONE_FAILED
        return columns
