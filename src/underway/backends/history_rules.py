"""The history's rules, above the dialects: which buckets a finished job counts in (its minute
and its hour), how buckets add up, which a read adds up, and when minutes and hours go. The
dialects read the jobs and stored buckets these functions need and write what they return."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..history_models import HISTOGRAM_BOUNDS_S, HISTOGRAM_SIZE, HistoryBucket

MINUTE_S = 60
HOUR_S = 3600
#: Minute buckets are kept this long (hours are written beside them).
KEEP_MINUTES_S = 24 * HOUR_S
#: Hour buckets are kept this long.
KEEP_HOURS_S = 35 * 24 * HOUR_S
#: Records of jobs taken back from lost workers are kept this long.
KEEP_LOSSES_S = 7 * 24 * HOUR_S
#: A rollup folds jobs that finished at least this long ago: a finish stamps its time before
#: it commits, so a rollup must not move past times whose finishes may still be committing.
SETTLE_S = 30.0
#: At most this many jobs are folded in one rollup transaction; a backlog takes several.
FOLD_BATCH = 5000

#: (span_s, bucket start, queue, name, state)
Key = tuple[int, int, str, str, str]


@dataclass(slots=True)
class Tally:
    """One bucket's counts as they are added up."""

    runs: int = 0
    timed: int = 0
    duration_sum_s: float = 0.0
    wait_sum_s: float = 0.0
    durations: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)
    waits: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_SIZE)

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.timed += other.timed
        self.duration_sum_s += other.duration_sum_s
        self.wait_sum_s += other.wait_sum_s
        self.durations = [a + b for a, b in zip(self.durations, other.durations, strict=True)]
        self.waits = [a + b for a, b in zip(self.waits, other.waits, strict=True)]


@dataclass(frozen=True, slots=True)
class FinishedJob:
    """What the history needs of a finished job (times in epoch seconds)."""

    seq: int
    queue: str
    name: str
    state: str
    run_at: float
    started_at: float | None
    finished_at: float


def histogram_slot(seconds: float) -> int:
    """The histogram bucket a duration or wait falls in."""
    return bisect.bisect_left(HISTOGRAM_BOUNDS_S, max(seconds, 0.0))


def bucket_start(at: float, span_s: int) -> int:
    return int(at // span_s) * span_s


def fold(jobs: Iterable[FinishedJob]) -> dict[Key, Tally]:
    """Minute buckets of these finished jobs."""
    tallies: dict[Key, Tally] = {}
    for job in jobs:
        key = (MINUTE_S, bucket_start(job.finished_at, MINUTE_S), job.queue, job.name, job.state)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = Tally()
        tally.runs += 1
        if job.started_at is not None:
            duration = max(job.finished_at - job.started_at, 0.0)
            wait = max(job.started_at - job.run_at, 0.0)
            tally.timed += 1
            tally.duration_sum_s += duration
            tally.wait_sum_s += wait
            tally.durations[histogram_slot(duration)] += 1
            tally.waits[histogram_slot(wait)] += 1
    return tallies


def coarsen(minutes: Iterable[tuple[Key, Tally]]) -> dict[Key, Tally]:
    """Hour buckets of these buckets (new tallies: adding to them leaves these alone). A
    rollup writes both, so that reads of days or weeks need not add up minutes."""
    hours: dict[Key, Tally] = {}
    for (_, at, queue, name, state), tally in minutes:
        key = (HOUR_S, bucket_start(at, HOUR_S), queue, name, state)
        hours.setdefault(key, Tally()).add(tally)
    return hours


def merged(new: dict[Key, Tally], stored: Iterable[tuple[Key, Tally]]) -> dict[Key, Tally]:
    """`new` with the stored buckets of the same keys added: the rows to write."""
    for key, tally in stored:
        if key in new:
            new[key].add(tally)
    return new


def span_of(keys: Iterable[Key]) -> tuple[int, int]:
    """The first and last bucket start of these keys (to read the stored ones)."""
    starts = [key[1] for key in keys]
    return min(starts), max(starts)


def span_for_step(step_s: int) -> int:
    """The buckets a read in steps of `step_s` adds up: hours for steps of an hour or more
    (kept five weeks), else minutes (kept a day)."""
    return HOUR_S if step_s >= HOUR_S else MINUTE_S


def bucket_bound(moment: datetime) -> int:
    """The first whole second at or after `moment`: a bucket, which starts on a whole second,
    starts at or after `moment` exactly when it starts at or after this."""
    return math.ceil(moment.timestamp())


def span_for_range(since: float, until: float) -> int:
    """The buckets a total between two times adds up: minutes within a day, else hours."""
    return MINUTE_S if until - since <= KEEP_MINUTES_S else HOUR_S


def totals_range(since: datetime, until: datetime) -> dict[str, int]:
    """A total's parameters: the span of the buckets it adds up, and the bounds their starts
    lie within (`since` included, `until` not)."""
    span = span_for_range(since.timestamp(), until.timestamp())
    return {"since": bucket_bound(since), "until": bucket_bound(until), "span": span}


def minutes_cutoff(now: float) -> int:
    """Minute buckets that start before this are deleted (their hours stay)."""
    return bucket_start(now - KEEP_MINUTES_S, HOUR_S)


def hours_cutoff(now: float) -> int:
    """Hour buckets that start before this are deleted."""
    return bucket_start(now - KEEP_HOURS_S, HOUR_S)


def unfolded(jobs: Sequence[FinishedJob], folded_at: float, folded_seq: int) -> list[FinishedJob]:
    """The jobs past the rollup's watermark (finish time, then seq): not folded yet."""
    return [job for job in jobs if (job.finished_at, job.seq) > (folded_at, folded_seq)]


def bucket_of(key: Key, tally: Tally) -> HistoryBucket:
    """A stored or folded bucket as the reads answer it."""
    span, at, queue, name, state = key
    return HistoryBucket(
        span_s=span,
        at=datetime.fromtimestamp(at, UTC),
        queue=queue,
        name=name,
        state=state,
        runs=tally.runs,
        timed=tally.timed,
        duration_sum_s=tally.duration_sum_s,
        wait_sum_s=tally.wait_sum_s,
        durations=tuple(tally.durations),
        waits=tuple(tally.waits),
    )


def percentile(histogram: Sequence[int], fraction: float) -> float | None:
    """The upper bound (seconds) of the histogram bucket holding the `fraction` quantile;
    the last bound doubled for the open bucket above it; None for an empty histogram."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for slot, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return HISTOGRAM_BOUNDS_S[slot] if slot < len(HISTOGRAM_BOUNDS_S) else 2 * HOUR_S
    return 2 * HOUR_S
