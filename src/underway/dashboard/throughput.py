"""Jobs finished per minute over the last hour, and the SVG bar chart that shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..app import App
from ..models import JobFilter, JobState, Stats

MINUTES = 60
PAGE = 500
#: At most this many finished jobs are read per chart; `Stats` has the exact hourly total.
MAX_JOBS = 5000
FINISHED = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True, slots=True)
class Minute:
    start: datetime
    completed: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.completed + self.failed


async def finished_per_minute(app: App, now: datetime) -> list[Minute]:
    """Per-minute counts of jobs finished in the hour before `now`, oldest minute first.

    Backend-independent: reads finished jobs created in the last hour through the App's
    listing, so a job created earlier that finished within the hour is not counted.
    """
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=MINUTES)
    completed, failed = [0] * MINUTES, [0] * MINUTES
    for offset in range(0, MAX_JOBS, PAGE):
        query = JobFilter(states=FINISHED, created_after=start, limit=PAGE, offset=offset)
        page = await app.list_page_async(query)
        for job in page.jobs:
            if job.finished_at is None or not start <= job.finished_at < end:
                continue
            index = int((job.finished_at - start).total_seconds() // 60)
            counts = completed if job.state is JobState.COMPLETED else failed
            counts[index] += 1
        if len(page.jobs) < PAGE:
            break
    return [Minute(start + timedelta(minutes=i), completed[i], failed[i]) for i in range(MINUTES)]


class MinuteCache:
    """The last per-minute counts, reused until a job finishes or the minute turns.

    Every open overview re-reads on changes; `key` (from the exact, cheap `Stats`) tells
    whether anything the chart shows can have changed since the last reading.
    """

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._value: list[Minute] = []

    async def get(self, app: App, now: datetime, stats: Stats) -> list[Minute]:
        finished = tuple(stats.counts.get(state.value, 0) for state in FINISHED)
        key = (now.replace(second=0, microsecond=0), stats.finished_last_hour, finished)
        if key != self._key:
            self._value = await finished_per_minute(app, now)
            self._key = key
        return self._value


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    y_completed: float
    h_completed: float
    y_failed: float
    h_failed: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Geometry of the throughput chart, drawn by the template as plain SVG shapes."""

    width: int
    height: int
    peak: int
    total: int
    bars: list[Bar]


def chart(minutes: list[Minute], width: int = 600, height: int = 120) -> Chart:
    peak = max((m.total for m in minutes), default=0)
    scale = (height - 4) / peak if peak else 0.0
    step = width / max(len(minutes), 1)
    bars = []
    for i, minute in enumerate(minutes):
        h_completed, h_failed = minute.completed * scale, minute.failed * scale
        bars.append(
            Bar(
                x=round(i * step + 1, 2),
                width=round(max(step - 2, 1), 2),
                y_completed=round(height - h_completed, 2),
                h_completed=round(h_completed, 2),
                y_failed=round(height - h_completed - h_failed, 2),
                h_failed=round(h_failed, 2),
                label=f"{minute.start:%H:%M} UTC: {minute.completed} completed, "
                f"{minute.failed} failed or cancelled",
            )
        )
    return Chart(width, height, peak, sum(m.total for m in minutes), bars)
