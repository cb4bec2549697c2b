"""The History page (charts per queue and per job name over a window), a job name's page
(runs, failure rate, p50/p95 duration and queue wait, with charts) and what the overview
shows of the history: its alerts and its throughput over a day or weeks."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from ..app import App
from ..app.alerts import AlertRules, normal_in_words
from ..app.history_views import WINDOWS, runs_by, steps_by, steps_of, window_of
from ..history_models import HistoryWindow
from .access import require_view
from .error_pages import guarded
from .history_charts import runs_chart, seconds_in_words, value_chart
from .rendering import render

Window = Literal["1h", "24h", "7d", "28d"]
#: Charts drawn per page section; more queues or names are listed without a chart.
MAX_CHARTS = 24

router = APIRouter(include_in_schema=False)


def app_of(request: Request) -> App:
    app: App = request.app.state.underway
    return app


def alert_rules_of(request: Request) -> AlertRules:
    rules: AlertRules | None = getattr(request.app.state, "alert_rules", None)
    return rules or AlertRules()


async def overview_history(request: Request, window: str) -> dict[str, Any]:
    """The overview's alerts, and its chart of finished jobs over the window."""
    app, rules, span = app_of(request), alert_rules_of(request), window_of(window)
    alerts, steps = await asyncio.gather(app.alerts_async(rules), app.history_async(span.key))
    return {
        "alerts": alerts,
        "normal": normal_in_words(rules),
        "window": span,
        "windows": list(WINDOWS.values()),
        "history_chart": runs_chart(steps, span),
    }


async def history_context(app: App, span: HistoryWindow) -> dict[str, Any]:
    """Charts of everything, of each queue and of each job name, from one read."""
    now, points = await app.history_points_async(span.key)
    by_queue, by_name = runs_by(points, "queue"), runs_by(points, "name")
    queues = sorted(by_queue, key=lambda q: -sum(by_queue[q].values()))
    names = sorted(by_name, key=lambda n: -sum(by_name[n].values()))
    queue_steps = steps_by(points, span, now, "queue")
    name_steps = steps_by(points, span, now, "name")
    return {
        "window": span,
        "windows": list(WINDOWS.values()),
        "all_chart": runs_chart(steps_of(points, span, now), span),
        "queues": queues,
        "names": names,
        "by_queue": by_queue,
        "by_name": by_name,
        "queue_charts": {q: runs_chart(queue_steps[q], span) for q in queues[:MAX_CHARTS]},
        "name_charts": {n: runs_chart(name_steps[n], span) for n in names[:MAX_CHARTS]},
    }


@router.get("/dashboard/history")
@guarded
async def history(request: Request, window: Window = Query("24h")) -> Response:
    viewer = require_view(request)
    context = await history_context(app_of(request), window_of(window))
    return render(request, viewer, "history.html", **context)


@router.get("/dashboard/history/{name:path}")
@guarded
async def job_name_history(
    request: Request,
    name: str,
    window: Window = Query("24h"),
    queue: str | None = Query(None, max_length=200),
) -> Response:
    viewer = require_view(request)
    app, span = app_of(request), window_of(window)
    summary, steps = await app.name_history_async(name, span.key, queue or None)
    return render(
        request,
        viewer,
        "history_name.html",
        job_name=name,
        queue=queue or "",
        known=name in app.registry,
        summary=summary,
        window=span,
        windows=list(WINDOWS.values()),
        runs=runs_chart(steps, span),
        durations=value_chart([s.p95_duration_s for s in steps], steps, span, "p95 duration"),
        waits=value_chart([s.p95_wait_s for s in steps], steps, span, "p95 queue wait"),
        in_words=seconds_in_words,
    )
