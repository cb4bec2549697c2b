"""How a batch of requests that each need a lookup resolves at once, for both dialects: jobs
whose only lookup is their fingerprint's (join/skip, or a bounded unique="queue"), decided
from one read of every fingerprint's active duplicate and waiting runs, then stored by one
bulk insert. What the batch cannot decide this way (an idempotency key, a cron tick, a
request to record as a skipped row) goes one by one, as before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..models import EnqueueResult, Job, NewJob
from . import policy

#: A duplicate's lookup key: its fingerprint and its unique_for window (None: none).
Window = tuple[str, float | None]


def batchable(jobs: Sequence[NewJob]) -> bool:
    """Whether these requests can resolve as one batch: several (one alone is as fast by
    itself), each with a fingerprint lookup (join/skip or a bounded queue) and no other."""
    return len(jobs) > 1 and all(
        job.fingerprint is not None
        and (policy.checks_duplicates(job) or policy.checks_queue_limit(job))
        and job.idempotency_key is None
        and job.recurring_id is None
        and not job.after
        and job.workflow_id is None
        and not job.followers
        for job in jobs
    )


def window_of(job: NewJob) -> Window:
    """The lookup key of a join/skip request's active duplicate."""
    assert job.fingerprint is not None
    return job.fingerprint, job.unique_for_s


def windows_of(jobs: Sequence[NewJob]) -> list[Window]:
    """The lookup keys of the join/skip requests among `jobs`, each once, in their order."""
    return list(dict.fromkeys(window_of(job) for job in jobs if policy.checks_duplicates(job)))


def queued_of(jobs: Sequence[NewJob]) -> list[str]:
    """The fingerprints of the bounded unique="queue" requests among `jobs`, each once."""
    queued = (str(job.fingerprint) for job in jobs if policy.checks_queue_limit(job))
    return list(dict.fromkeys(queued))


@dataclass(frozen=True, slots=True)
class Resolution:
    """What each request of a batch becomes, in order: stored (`stored`: the requests to
    insert), answered by a stored job (`answers`), or by the job an earlier request of the
    batch stores (`same_as`: request index → (that request's index, joined))."""

    stored: list[NewJob]
    answers: dict[int, EnqueueResult]
    same_as: dict[int, tuple[int, bool]]

    def results(
        self, inserted: Mapping[str, EnqueueResult], jobs: Sequence[NewJob]
    ) -> list[EnqueueResult]:
        """Every request's result, once `stored` are inserted (`inserted`: by id)."""
        out: list[EnqueueResult] = []
        for i, job in enumerate(jobs):
            if i in self.answers:
                out.append(self.answers[i])
            elif i in self.same_as:
                first, joined = self.same_as[i]
                stored = inserted[jobs[first].id].job
                out.append(EnqueueResult(job=stored, joined=joined, skipped=not joined))
            else:
                out.append(inserted[job.id])
        return out


def resolve(
    jobs: Sequence[NewJob], active: Mapping[Window, Job], waiting: Mapping[str, int]
) -> Resolution | None:
    """Resolve a `batchable` batch, given each fingerprint's active duplicate (by window)
    and waiting runs of unique="queue" as stored: a request joins or skips the active
    duplicate, stored or stored earlier in the batch, and a bounded one is stored while its
    queue has room (QueueFull if full and it refuses). None if a request must be recorded
    as a skipped row: the batch then goes one by one."""
    stored: list[NewJob] = []
    answers: dict[int, EnqueueResult] = {}
    same_as: dict[int, tuple[int, bool]] = {}
    first_of: dict[str, int] = {}  # fingerprint → the batch's request that stores its job
    counted = dict(waiting)
    for i, job in enumerate(jobs):
        fingerprint = job.fingerprint
        assert fingerprint is not None
        if policy.checks_duplicates(job):
            # A job stored earlier in the batch is active: it comes first, as an active
            # duplicate comes before a completed one in ACTIVE_DUPLICATE's order.
            if fingerprint in first_of:
                if job.unique == "skip" and job.record_skipped:
                    return None
                same_as[i] = (first_of[fingerprint], job.unique == "join")
                continue
            found = active.get(window_of(job))
            if found is not None:
                decided = policy.duplicate_result(job, found)
                if isinstance(decided, policy.RecordSkip):
                    return None
                answers[i] = decided
                continue
            first_of[fingerprint] = i
        else:
            runs = counted.get(fingerprint, 0)
            if policy.queue_full_result(job, runs, job.id) is not None:
                return None
            counted[fingerprint] = runs + 1
        stored.append(job)
    return Resolution(stored, answers, same_as)
