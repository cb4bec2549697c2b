"""Chart geometry of the history: stacked bars of finished jobs per step, and bars of one
value per step (a p95 duration or wait), drawn by `_chart.html` as plain SVG shapes."""

from __future__ import annotations

from collections.abc import Sequence

from ..history_models import HistoryStep, HistoryWindow
from .throughput import Bar, Chart, Minute, chart

WIDTH, HEIGHT = 600, 120


def label_format(window: HistoryWindow) -> str:
    return "%H:%M" if window.seconds <= 86400 else "%b %d %H:%M"


def runs_chart(steps: Sequence[HistoryStep], window: HistoryWindow) -> Chart:
    """Completed jobs, and failed or cancelled ones above them, per step."""
    minutes = [Minute(s.at, s.completed, s.failed + s.cancelled) for s in steps]
    drawn = chart(minutes, WIDTH, HEIGHT)
    fmt = label_format(window)
    bars = [
        Bar(
            bar.x,
            bar.width,
            bar.y_completed,
            bar.h_completed,
            bar.y_failed,
            bar.h_failed,
            f"{step.at:{fmt}} UTC: {step.completed} completed, "
            f"{step.failed + step.cancelled} failed or cancelled",
        )
        for bar, step in zip(drawn.bars, steps, strict=True)
    ]
    return Chart(drawn.width, drawn.height, drawn.peak, drawn.total, bars)


def seconds_in_words(seconds: float | None) -> str:
    """'—', '5 ms', '1.2 s', '3.0 min', '1.5 h'."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def value_chart(
    values: Sequence[float | None], steps: Sequence[HistoryStep], window: HistoryWindow, what: str
) -> Chart:
    """One bar per step for a value in seconds (none where the step had no timed job)."""
    peak = max((v for v in values if v is not None), default=0.0)
    scale = (HEIGHT - 4) / peak if peak else 0.0
    step_w = WIDTH / max(len(values), 1)
    fmt = label_format(window)
    bars = []
    for i, (value, step) in enumerate(zip(values, steps, strict=True)):
        h = (value or 0.0) * scale
        bars.append(
            Bar(
                x=round(i * step_w + 1, 2),
                width=round(max(step_w - 2, 1), 2),
                y_completed=round(HEIGHT - h, 2),
                h_completed=round(h, 2),
                y_failed=0.0,
                h_failed=0.0,
                label=f"{step.at:{fmt}} UTC: {what} {seconds_in_words(value)}",
            )
        )
    return Chart(WIDTH, HEIGHT, 0, len([v for v in values if v is not None]), bars)
