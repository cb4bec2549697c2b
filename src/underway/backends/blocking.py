"""What holds a waiting job, decided once above the dialects: each dialect reads the facts
(`BlockingFacts`) in one transaction, and `explain` names every hold that applies, most
fundamental first, each as one readable line with the facts behind it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from ..explanations import (
    Blocker,
    BlockingFacts,
    Explanation,
    LaneFacts,
    RateFacts,
    RunningFacts,
)
from ..models import Job, JobState

#: How many running jobs a blocker names; its count says how many more there are.
NAMED_RUNNING = 10
#: How many of the jobs a waiting job depends on its blocker names.
NAMED_DEPENDENCIES = 10
#: Ready jobs ahead of a job are counted up to this many, and then only said to be more.
AHEAD_COUNTED = 1000
#: Lanes whose one running job holds the next one with the same key: unique="queue" jobs
#: (by fingerprint) and the runs of a recurring job with overlap="queue".
SERIAL_LANE_PREFIXES = ("fp:", "recurring:")
WAITING_STATES = frozenset({JobState.PENDING, JobState.SCHEDULED})


def next_slot_offset(count: int, limit: int) -> int | None:
    """Which live start of a key at its limit, soonest to expire first (0-based), opens its
    next slot as it leaves the window; None while the key is below its limit."""
    return None if count < limit else count - limit


def explain(facts: BlockingFacts, stale_after_s: float) -> Explanation:
    """Every hold on the job, most fundamental first; or what it does instead of waiting."""
    job = facts.job
    if job.state is JobState.SKIPPED:
        reasons: tuple[Blocker, ...] = (skipped(job),)
    elif job.state is JobState.WAITING:
        later = (scheduled(facts), queue_paused(facts), no_worker(facts, stale_after_s))
        reasons = (dependencies(facts), *(blocker for blocker in later if blocker is not None))
    elif job.state not in WAITING_STATES:
        reasons = (not_waiting(facts, stale_after_s),)
    else:
        reasons = holds(facts, stale_after_s) or (ready(facts),)
    return Explanation(job.id, job.state, reasons, facts.now)


def holds(facts: BlockingFacts, stale_after_s: float) -> tuple[Blocker, ...]:
    """The holds that apply, in `BlockerKind`'s order. Limits shared with other jobs say
    what stops a start now, so they count only once the job is due."""
    found = [scheduled(facts), queue_paused(facts)]
    if facts.job.run_at <= facts.now:
        found += [queue_concurrency(facts), lane_busy(facts), job_rate(facts), queue_rate(facts)]
    found.append(no_worker(facts, stale_after_s))
    return tuple(blocker for blocker in found if blocker is not None)


# -- the holds -----------------------------------------------------------------------------


def dependencies(facts: BlockingFacts) -> Blocker:
    """A waiting job's dependencies that have not ended, and what its rule makes of those
    that ended without completing."""
    job = facts.job
    waiting_for = RunningFacts(job.waiting_on, facts.waiting_for)
    line = f"waiting for {plural(job.waiting_on, 'job')} it depends on {named(waiting_for)}"
    failed = job.failed_dependencies
    if job.dependency_rule == "ended":
        line += "; it runs once they ended, whatever became of them"
    elif job.dependency_rule == "failed":
        line += f"; it runs only if one or more did not complete ({failed} so far)"
    else:
        line += f"; {failed} ended without completing (it tolerates {job.tolerate})"
    return Blocker(
        "dependencies",
        line,
        job_ids=facts.waiting_for,
        details={
            "waiting_on": job.waiting_on,
            "failed": failed,
            "rule": job.dependency_rule,
            "tolerate": job.tolerate,
        },
    )


def queue_paused(facts: BlockingFacts) -> Blocker | None:
    queue = facts.queue
    if not queue.paused:
        return None
    since = f" since {moment(queue.paused_at, facts.now)}" if queue.paused_at else ""
    by = f" by {queue.paused_by}" if queue.paused_by else ""
    return Blocker(
        "queue_paused",
        f"queue {queue.name} is paused{since}{by}: its jobs wait until it is resumed",
        details={"queue": queue.name, "paused_at": queue.paused_at, "paused_by": queue.paused_by},
    )


def no_worker(facts: BlockingFacts, stale_after_s: float) -> Blocker | None:
    queue = facts.job.queue
    if any(queue in worker.queues for worker in facts.live_workers):
        return None
    count = len(facts.live_workers)
    if count:
        served = sorted({name for worker in facts.live_workers for name in worker.queues})
        serve = "serves" if count == 1 else "serve"
        elsewhere = f"{plural(count, 'live worker')} {serve} only {', '.join(served)}"
    else:
        elsewhere = f"no worker has heartbeated in the last {stale_after_s:g}s"
    return Blocker(
        "no_worker",
        f"no live worker serves queue {queue} ({elsewhere})",
        details={"queue": queue, "live_workers": count, "stale_after_s": stale_after_s},
    )


def scheduled(facts: BlockingFacts) -> Blocker | None:
    job = facts.job
    if job.run_at <= facts.now:
        return None
    after = f" after attempt {job.attempt}" if job.attempt else ""
    return Blocker(
        "scheduled",
        f"scheduled{after}: due at {moment(job.run_at, facts.now)} "
        f"({time_until(job.run_at, facts.now)})",
        until=job.run_at,
        details={"run_at": job.run_at},
    )


def queue_concurrency(facts: BlockingFacts) -> Blocker | None:
    queue = facts.queue
    if queue.concurrency is None or queue.running.count < queue.concurrency:
        return None
    return Blocker(
        "queue_concurrency",
        f"queue {queue.name} is at its concurrency limit: "
        f"{queue.running.count}/{queue.concurrency} running {named(queue.running)}",
        job_ids=queue.running.ids,
        details={
            "queue": queue.name,
            "limit": queue.concurrency,
            "running": queue.running.count,
        },
    )


def lane_busy(facts: BlockingFacts) -> Blocker | None:
    lane = facts.lane
    if lane is None or lane.running.count < lane.limit:
        return None
    if lane.limit == 1 and lane.name.startswith(SERIAL_LANE_PREFIXES):
        return serial_lane_busy(lane)
    return Blocker(
        "concurrency_key",
        f"concurrency key {lane.name} is full: "
        f"{lane.running.count}/{lane.limit} running {named(lane.running)}",
        job_ids=lane.running.ids,
        details={"lane": lane.name, "limit": lane.limit, "running": lane.running.count},
    )


def serial_lane_busy(lane: LaneFacts) -> Blocker:
    """A unique="queue" job (or a recurring run with overlap="queue") behind the run of the
    same key that is running."""
    running = ", ".join(lane.running.ids) or "another job"
    same = "previous run" if lane.name.startswith("recurring:") else "same-arguments run"
    return Blocker(
        "unique_queue",
        f"queue lane busy: its {same} {running} is running; it starts when that one ends",
        job_ids=lane.running.ids,
        details={"lane": lane.name, "running": lane.running.count},
    )


def queue_rate(facts: BlockingFacts) -> Blocker | None:
    rate = facts.queue.rate
    if rate is None or rate.count < rate.limit:
        return None
    subject = f"queue {facts.queue.name} rate limit {rate_text(rate)}"
    return rate_blocker("queue_rate_limit", subject, rate, facts.now)


def job_rate(facts: BlockingFacts) -> Blocker | None:
    rate = facts.rate
    if rate is None or rate.count < rate.limit:
        return None
    subject = f"rate limit {rate_text(rate)} for key {rate.key}"
    return rate_blocker("rate_limit", subject, rate, facts.now)


def rate_blocker(
    kind: Literal["rate_limit", "queue_rate_limit"], subject: str, rate: RateFacts, now: datetime
) -> Blocker:
    """A key at its rate limit: how many starts are in its window, and when the next slot
    opens."""
    opens = f"; next slot at {moment(rate.next_slot_at, now)}" if rate.next_slot_at else ""
    return Blocker(
        kind,
        f"{subject} reached: {plural(rate.count, 'start')} in the window{opens}",
        until=rate.next_slot_at,
        details={
            "key": rate.key,
            "limit": rate.limit,
            "window_s": rate.window_s,
            "window": "fixed" if rate.fixed else "sliding",
            "starts": rate.count,
            "next_slot_at": rate.next_slot_at,
        },
    )


# -- a job that is not held ----------------------------------------------------------------


def ready(facts: BlockingFacts) -> Blocker:
    ahead = facts.ahead
    if ahead > AHEAD_COUNTED:
        line = f"; more than {AHEAD_COUNTED} jobs are ahead of it in queue {facts.job.queue}"
    elif ahead:
        line = f"; {plural(ahead, 'job')} ahead of it in queue {facts.job.queue}"
    else:
        line = ""
    return Blocker(
        "ready",
        f"ready: it will start at the next claim{line}",
        details={"queue": facts.job.queue, "ahead": ahead},
    )


def skipped(job: Job) -> Blocker:
    duplicate = f" as a duplicate of job {job.duplicate_of}" if job.duplicate_of else ""
    reason = f": {job.skip_reason}" if job.skip_reason else ""
    return Blocker(
        "skipped",
        f"skipped{duplicate}{reason}; it will never run",
        job_ids=(job.duplicate_of,) if job.duplicate_of else (),
        details={"duplicate_of": job.duplicate_of, "skip_reason": job.skip_reason},
    )


def not_waiting(facts: BlockingFacts, stale_after_s: float) -> Blocker:
    job = facts.job
    if job.state is JobState.RUNNING:
        return running(facts, stale_after_s)
    line = f"{job.state.value} at {moment(job.finished_at, facts.now)}, not waiting"
    if job.state is JobState.FAILED and job.error is not None:
        line += f" (attempt {job.attempt} of {job.max_attempts}: {job.error.type})"
    return Blocker("not_waiting", line, details={"finished_at": job.finished_at})


def running(facts: BlockingFacts, stale_after_s: float) -> Blocker:
    job = facts.job
    live = any(worker.id == job.worker_id for worker in facts.live_workers)
    since = moment(job.started_at, facts.now)
    line = f"running on worker {job.worker_id} since {since} (attempt {job.attempt})"
    if job.cancel_requested:
        line += "; cancellation requested"
    if not live:
        line += (
            f"; that worker has not heartbeated in the last {stale_after_s:g}s, "
            "so a sweep will take the job back"
        )
    return Blocker(
        "not_waiting",
        line,
        details={"worker_id": job.worker_id, "started_at": job.started_at, "worker_live": live},
    )


# -- words ---------------------------------------------------------------------------------


def named(running: RunningFacts) -> str:
    """The running jobs' ids in brackets, with how many more there are."""
    more = running.count - len(running.ids)
    ids = ", ".join(running.ids)
    if more > 0:
        ids += f" and {more} more" if ids else f"{more} jobs"
    return f"({ids})"


def rate_text(rate: RateFacts) -> str:
    return f"{rate.limit}/{rate.window_s:g}s ({'fixed' if rate.fixed else 'sliding'})"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def moment(at: datetime | None, now: datetime) -> str:
    """A time in UTC to the millisecond: only the time of day when it is today."""
    if at is None:
        return "an unknown time"
    at, today = at.astimezone(UTC), now.astimezone(UTC).date()
    text = at.strftime("%H:%M:%S.%f")[:-3] + "Z"
    return text if at.date() == today else f"{at.date().isoformat()}T{text}"


def time_until(at: datetime, now: datetime) -> str:
    """How long from `now` until `at`: seconds under a minute, else its largest unit and the
    next one ("in 4m 59s", "in 2h", "in 1d 3h")."""
    seconds = (at - now).total_seconds()
    if seconds < 60:
        return f"in {seconds:.1f}s"
    whole = int(seconds)
    units = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m")]
    units.append((whole % 60, "s"))
    first = next(i for i, (value, _) in enumerate(units) if value)
    return "in " + " ".join(f"{value}{unit}" for value, unit in units[first : first + 2] if value)
