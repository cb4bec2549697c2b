"""Counts of the flow-control scenarios' starts, from the jobs' own start times (the ground
truth): the most in any window, in one second of the clock, and the pace a key got."""

from __future__ import annotations

import bisect
import math
from collections import Counter

#: `paced` and `paced_fixed`: starts per key per second.
LIMIT = 50


def most_in_window(times: list[float], window: float) -> int:
    """The most of `times` in any half-open interval [t, t + window)."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0
    )


def most_per_clock_second(times: list[float]) -> int:
    """The most of `times` in one second of the clock (a fixed window's)."""
    return max(Counter(math.floor(t) for t in times).values(), default=0)


def steady_rate(times: list[float], limit: int = LIMIT) -> float:
    """Starts per second while the key had work: the starts after the first window's
    `limit`, over the time from the first start to the last. A limiter that starts `limit`
    at once and `limit` more as soon as each window lets it measures exactly `limit`."""
    span = max(times) - min(times)
    return (len(times) - limit) / span if span > 0 else float("nan")


def clock_second_rate(times: list[float]) -> float:
    """Starts per second while the key had work, for a fixed window: the mean count of the
    clock seconds after the one of its first start and before the one of its last (a
    limiter that starts 50 in each second of the clock measures 50)."""
    first, last = math.floor(min(times)), math.floor(max(times))
    inside = sum(1 for t in times if first < math.floor(t) < last)
    return inside / (last - first - 1) if last - first > 1 else float("nan")
