"""The geometry of a bar chart of finished jobs (completed below, failed or cancelled above),
drawn by the templates as plain SVG shapes; the history supplies the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Minute:
    start: datetime
    completed: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.completed + self.failed


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
