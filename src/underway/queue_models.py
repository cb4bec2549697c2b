"""Plain data of queues and workers as operators see them: declared limits, state, live
workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live worker process as registered in the database."""

    id: str
    hostname: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime
    running: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """Limits a queue declares in code (`app.queue(...)`), shared by all workers through the
    database: running jobs at once, and starts per window."""

    name: str
    concurrency: int | None = None
    rate_limit: int | None = None
    rate_window_s: float | None = None
    rate_fixed: bool = False


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue as operators see it: its limits, whether it is paused, its jobs per state,
    when its oldest ready job became due, its starts in the last minute, its live workers."""

    name: str
    paused: bool = False
    paused_at: datetime | None = None
    paused_by: str | None = None
    concurrency: int | None = None
    rate_limit: int | None = None
    rate_window_s: float | None = None
    rate_fixed: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    oldest_waiting_at: datetime | None = None
    started_last_minute: int = 0
    workers: tuple[str, ...] = ()
