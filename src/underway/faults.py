"""Crash points for the fault suite: `UNDERWAY_FAULTS="after_claim:exit,before_finish:exit@p=0.1"`.

Each named point calls `os._exit(137)` (like a SIGKILL) when its rule fires. Without the
environment variable `crash_point` is a function that does nothing.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable

POINTS = ("after_claim", "job_started", "after_return", "before_finish", "after_finish")
EXIT_CODE = 137


def _parse(spec: str) -> dict[str, float]:
    rules: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, rest = item.partition(":")
        action, _, probability = rest.partition("@p=")
        if point not in POINTS or action != "exit":
            raise SystemExit(f"UNDERWAY_FAULTS: bad rule {item!r}; points are {', '.join(POINTS)}")
        rules[point] = float(probability) if probability else 1.0
    return rules


def _make_crash_point() -> Callable[[str], None]:
    spec = os.environ.get("UNDERWAY_FAULTS", "")
    if not spec:
        return lambda point: None
    rules = _parse(spec)

    def crash_point(point: str) -> None:
        probability = rules.get(point)
        if probability is not None and random.random() < probability:
            sys.stderr.write(
                f"underway: crash point {point} fired (UNDERWAY_FAULTS) "
                f"pid={os.getpid()} t={time.monotonic():.6f}\n"
            )
            sys.stderr.flush()
            os._exit(EXIT_CODE)

    return crash_point


crash_point = _make_crash_point()


def partition_check() -> Callable[[], bool] | None:
    """`UNDERWAY_PARTITION_FILE=PATH`: while that file exists, this process's storage calls
    fail as if the database could not be reached (the fault suite cuts one worker off with
    it). None without the variable, so that nothing checks anything."""
    path = os.environ.get("UNDERWAY_PARTITION_FILE")
    if not path:
        return None
    return lambda: os.path.exists(path)
