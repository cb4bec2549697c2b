"""Plain data of the history: buckets of finished jobs, series, totals, worker losses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Upper bounds (seconds) of the histogram buckets of durations and queue waits; a last
#: bucket holds everything above the final bound.
HISTOGRAM_BOUNDS_S = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
HISTOGRAM_SIZE = len(HISTOGRAM_BOUNDS_S) + 1


@dataclass(frozen=True, slots=True)
class HistoryBucket:
    """The jobs of one queue, name and final state that finished within one minute or hour
    (`span_s`), with histograms of their durations and queue waits (jobs that never started,
    such as those cancelled while waiting, are counted in `runs` but not timed)."""

    span_s: int
    at: datetime
    queue: str
    name: str
    state: str
    runs: int
    timed: int
    duration_sum_s: float
    wait_sum_s: float
    durations: tuple[int, ...]
    waits: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """How many jobs of one queue and name finished in one state within the step starting
    at `at`."""

    at: datetime
    queue: str
    name: str
    state: str
    runs: int


@dataclass(frozen=True, slots=True)
class HistoryTotal:
    """How many jobs of one queue and name finished in one state within a window."""

    queue: str
    name: str
    state: str
    runs: int


@dataclass(frozen=True, slots=True)
class WorkerLoss:
    """A job taken back from a worker that stopped heartbeating, and what it became."""

    worker_id: str
    hostname: str | None
    pid: int | None
    last_seen_at: datetime | None
    job_id: str
    name: str
    attempt: int
    became: str
    lost_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """A span of the history the pages and the API offer, read in steps of `step_s`."""

    key: str
    seconds: int
    step_s: int
    label: str


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """Jobs finished per final state within one step of a window, with the p95 duration and
    queue wait of those timed (read back from the histograms; None when none was timed)."""

    at: datetime
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    p95_duration_s: float | None = None
    p95_wait_s: float | None = None

    @property
    def total(self) -> int:
        return self.completed + self.failed + self.cancelled + self.skipped


@dataclass(frozen=True, slots=True)
class NameSummary:
    """One job name over a window: runs per final state, the failure rate (failed of
    completed and failed) and the percentiles of its durations and queue waits."""

    name: str
    queues: tuple[str, ...]
    completed: int
    failed: int
    cancelled: int
    skipped: int
    p50_duration_s: float | None
    p95_duration_s: float | None
    p50_wait_s: float | None
    p95_wait_s: float | None

    @property
    def runs(self) -> int:
        return self.completed + self.failed + self.cancelled + self.skipped

    @property
    def failure_rate(self) -> float | None:
        ended = self.completed + self.failed
        return self.failed / ended if ended else None
