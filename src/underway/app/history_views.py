"""The history read back as pages and the API show it: the windows offered, steps of a window
filled with zeros where nothing finished, and one job name's summary with its percentiles."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from ..backends.history_rules import percentile
from ..history_models import (
    HISTOGRAM_SIZE,
    HistoryBucket,
    HistoryPoint,
    HistoryStep,
    HistoryTotal,
    HistoryWindow,
    NameSummary,
)

WINDOWS = {
    window.key: window
    for window in (
        HistoryWindow("1h", 3600, 60, "last hour"),
        HistoryWindow("24h", 86400, 600, "last 24 hours"),
        HistoryWindow("7d", 7 * 86400, 3600, "last 7 days"),
        HistoryWindow("28d", 28 * 86400, 6 * 3600, "last 28 days"),
    )
}
STATES = ("completed", "failed", "cancelled", "skipped")


def window_of(key: str) -> HistoryWindow:
    """The window named `key`; a ValueError naming the windows there are otherwise."""
    found = WINDOWS.get(key)
    if found is None:
        raise ValueError(f"unknown history window {key!r}: use one of {', '.join(WINDOWS)}")
    return found


def first_step(window: HistoryWindow, now: datetime) -> datetime:
    """The start of the window's first step: whole steps, the last one holding `now`."""
    last = int(now.timestamp()) // window.step_s * window.step_s
    start = last - (window.seconds // window.step_s - 1) * window.step_s
    return datetime.fromtimestamp(start, now.tzinfo)


def steps_of(
    points: Iterable[HistoryPoint], window: HistoryWindow, now: datetime
) -> list[HistoryStep]:
    """Counts per state in every step of the window, oldest first."""
    start = first_step(window, now)
    count = window.seconds // window.step_s
    counts = [dict.fromkeys(STATES, 0) for _ in range(count)]
    for point in points:
        index = int((point.at - start).total_seconds()) // window.step_s
        if 0 <= index < count and point.state in STATES:
            counts[index][point.state] += point.runs
    return [
        HistoryStep(start + timedelta(seconds=i * window.step_s), **counts[i]) for i in range(count)
    ]


def steps_by(
    points: Sequence[HistoryPoint], window: HistoryWindow, now: datetime, field: str
) -> dict[str, list[HistoryStep]]:
    """The steps of each queue or job name (`field`)."""
    grouped: dict[str, list[HistoryPoint]] = {}
    for point in points:
        grouped.setdefault(point.queue if field == "queue" else point.name, []).append(point)
    return {key: steps_of(some, window, now) for key, some in grouped.items()}


def name_steps(
    buckets: Sequence[HistoryBucket], window: HistoryWindow, now: datetime
) -> list[HistoryStep]:
    """One job name's steps, with the p95 duration and wait of each."""
    start = first_step(window, now)
    count = window.seconds // window.step_s
    grouped: list[list[HistoryBucket]] = [[] for _ in range(count)]
    for bucket in buckets:
        index = int((bucket.at - start).total_seconds()) // window.step_s
        if 0 <= index < count:
            grouped[index].append(bucket)
    return [
        step_of(start + timedelta(seconds=i * window.step_s), group)
        for i, group in enumerate(grouped)
    ]


def step_of(at: datetime, buckets: Sequence[HistoryBucket]) -> HistoryStep:
    counts = dict.fromkeys(STATES, 0)
    for bucket in buckets:
        if bucket.state in counts:
            counts[bucket.state] += bucket.runs
    return HistoryStep(
        at,
        **counts,
        p95_duration_s=percentile(added(b.durations for b in buckets), 0.95),
        p95_wait_s=percentile(added(b.waits for b in buckets), 0.95),
    )


def summary(name: str, buckets: Sequence[HistoryBucket]) -> NameSummary:
    """A job name's runs per state and percentiles over these buckets."""
    counts = dict.fromkeys(STATES, 0)
    for bucket in buckets:
        if bucket.state in counts:
            counts[bucket.state] += bucket.runs
    durations = added(b.durations for b in buckets)
    waits = added(b.waits for b in buckets)
    return NameSummary(
        name=name,
        queues=tuple(sorted({b.queue for b in buckets})),
        **counts,
        p50_duration_s=percentile(durations, 0.5),
        p95_duration_s=percentile(durations, 0.95),
        p50_wait_s=percentile(waits, 0.5),
        p95_wait_s=percentile(waits, 0.95),
    )


def added(histograms: Iterable[Sequence[int]]) -> list[int]:
    total = [0] * HISTOGRAM_SIZE
    for histogram in histograms:
        total = [a + b for a, b in zip(total, histogram, strict=False)]
    return total


def runs_by(totals: Iterable[HistoryTotal | HistoryPoint], field: str) -> dict[str, dict[str, int]]:
    """Runs per state of each queue or job name (`field`), from totals or points."""
    found: dict[str, dict[str, int]] = {}
    for total in totals:
        key = total.queue if field == "queue" else total.name
        counts = found.setdefault(key, dict.fromkeys(STATES, 0))
        if total.state in counts:
            counts[total.state] += total.runs
    return found
