"""Routes of the history and the alerts: jobs finished per step of a window (per queue, per
job name, with a job name's percentiles) and what needs an operator now, for monitoring to
poll."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App
from ..app.alerts import AlertRules, normal_in_words
from ..app.history_views import runs_by, window_of
from ..history_models import HistoryStep, NameSummary
from . import openapi
from .auth import can_view
from .schemas import Body

Window = Literal["1h", "24h", "7d", "28d"]
WINDOW = Query("24h", description="1h (minute steps), 24h (10 min), 7d (hours), 28d (6 h).")

router = APIRouter(tags=["operations"])


class StepBody(Body):
    at: datetime = Field(description="Start of the step.")
    completed: int
    failed: int
    cancelled: int
    skipped: int
    p95_duration_s: float | None = Field(None, description="Only with `name`.")
    p95_wait_s: float | None = Field(None, description="Only with `name`.")


class RunsBody(Body):
    completed: int
    failed: int
    cancelled: int
    skipped: int


class SummaryBody(Body):
    """A job name over the window; percentiles are histogram bucket bounds, in seconds."""

    name: str
    queues: list[str]
    runs: int
    failure_rate: float | None = Field(description="Failed of completed and failed.")
    p50_duration_s: float | None
    p95_duration_s: float | None
    p50_wait_s: float | None
    p95_wait_s: float | None


class HistoryBody(Body):
    window: str
    step_s: int
    steps: list[StepBody]
    by_queue: dict[str, RunsBody] = Field(description="Runs per state of each queue.")
    by_name: dict[str, RunsBody] = Field(description="Runs per state of each job name.")
    summary: SummaryBody | None = Field(None, description="With `name`: that job name's.")


class AlertBody(Body):
    kind: Literal["no_live_worker", "failure_rate", "oldest_waiting"]
    subject: str = Field(description="The queue or job name it is about.")
    message: str


class AlertList(Body):
    items: list[AlertBody]
    normal: str = Field(description="What the failure-rate alert compares with.")
    oldest_waiting_s: float


def alert_rules_of(request: Request) -> AlertRules:
    rules: AlertRules | None = getattr(request.app.state, "alert_rules", None)
    return rules or AlertRules()


def step_body(step: HistoryStep) -> StepBody:
    return StepBody(
        at=step.at,
        completed=step.completed,
        failed=step.failed,
        cancelled=step.cancelled,
        skipped=step.skipped,
        p95_duration_s=step.p95_duration_s,
        p95_wait_s=step.p95_wait_s,
    )


def summary_body(summary: NameSummary) -> SummaryBody:
    return SummaryBody(
        name=summary.name,
        queues=list(summary.queues),
        runs=summary.runs,
        failure_rate=summary.failure_rate,
        p50_duration_s=summary.p50_duration_s,
        p95_duration_s=summary.p95_duration_s,
        p50_wait_s=summary.p50_wait_s,
        p95_wait_s=summary.p95_wait_s,
    )


@router.get(
    "/api/history",
    operation_id="get_history",
    dependencies=[can_view],
    response_model=HistoryBody,
    responses=openapi.responses(),
    summary="Jobs finished per step of a window, per queue and per job name",
)
async def history(
    request: Request,
    window: Window = WINDOW,
    queue: str | None = Query(None, max_length=200),
    name: str | None = Query(None, max_length=200),
) -> JSONResponse:
    app: App = request.app.state.underway
    span = window_of(window)
    summary = None
    if name:
        found, steps = await app.name_history_async(name, window, queue)
        summary = summary_body(found)
    else:
        steps = await app.history_async(window, queue)
    totals = await app.history_totals_async(window)
    body = HistoryBody(
        window=span.key,
        step_s=span.step_s,
        steps=[step_body(step) for step in steps],
        by_queue={k: RunsBody(**v) for k, v in runs_by(totals, "queue").items()},
        by_name={k: RunsBody(**v) for k, v in runs_by(totals, "name").items()},
        summary=summary,
    )
    return JSONResponse(body.wire())


@router.get(
    "/api/alerts",
    operation_id="get_alerts",
    dependencies=[can_view],
    response_model=AlertList,
    responses=openapi.responses(),
    summary="What needs an operator now: queues nobody serves, failure rates above normal, "
    "jobs waiting too long",
)
async def alerts(request: Request) -> JSONResponse:
    app: App = request.app.state.underway
    rules = alert_rules_of(request)
    found = await app.alerts_async(rules)
    body = AlertList(
        items=[AlertBody(kind=a.kind, subject=a.subject, message=a.message) for a in found],
        normal=normal_in_words(rules),
        oldest_waiting_s=rules.oldest_waiting_s,
    )
    return JSONResponse(body.wire())
