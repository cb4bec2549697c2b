"""Peak overlap of runs: how many were open at once, from their start and end times."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any


def peak(events: Iterable[tuple[float, int]]) -> int:
    """Most runs open at once, from (time, +1 for a start or -1 for an end) events.

    At equal times an end counts before a start: a run that starts as another ends is not
    an overlap.
    """
    running = highest = 0
    for _, delta in sorted(events):
        running += delta
        highest = max(highest, running)
    return highest


def peak_of_spans(spans: Iterable[tuple[float, float]]) -> int:
    """Most (start, end) spans open at once."""
    return peak(event for start, end in spans for event in ((start, 1), (end, -1)))


def peak_per_key(ledger: Iterable[dict[str, Any]], name: str) -> int:
    """Most runs of one key of job `name` open at once, from fault-ledger start/end records."""
    events: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for record in ledger:
        if record["name"] == name:
            events[record["key"]].append((record["t"], 1 if record["ev"] == "start" else -1))
    return max((peak(key_events) for key_events in events.values()), default=0)
