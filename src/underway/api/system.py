"""Operational routes: counts per state, live workers, and the health check."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..app import App
from ..errors import JobNotFound
from ..models import JobState
from . import openapi
from .auth import can_view
from .schemas import Health, StatsBody, Throughput, Worker, WorkerList

#: An id no job has: reading it is the cheapest round trip to the database.
PROBE_ID = "00000000-0000-0000-0000-000000000000"

router = APIRouter(tags=["operations"])


@router.get(
    "/api/stats",
    operation_id="get_stats",
    dependencies=[can_view],
    response_model=StatsBody,
    responses=openapi.responses(),
    summary="Jobs per state and recent throughput",
)
async def stats(request: Request) -> JSONResponse:
    app: App = request.app.state.underway
    found = await app.stats_async()
    counts = {state.value: found.counts.get(state.value, 0) for state in JobState}
    throughput = Throughput(
        last_minute=found.finished_last_minute, last_hour=found.finished_last_hour
    )
    return JSONResponse(StatsBody(counts=counts, throughput=throughput).wire())


@router.get(
    "/api/workers",
    operation_id="get_workers",
    dependencies=[can_view],
    response_model=WorkerList,
    responses=openapi.responses(),
    summary="Live workers, their running jobs and last heartbeat",
)
async def workers(request: Request) -> JSONResponse:
    app: App = request.app.state.underway
    items = [
        Worker(
            id=w.id,
            hostname=w.hostname,
            pid=w.pid,
            queues=list(w.queues),
            concurrency=w.concurrency,
            started_at=w.started_at,
            heartbeat_at=w.heartbeat_at,
            running=list(w.running),
        )
        for w in await app.workers_async()
    ]
    return JSONResponse(WorkerList(items=items).wire())


@router.get(
    "/healthz",
    operation_id="healthz",
    response_model=Health,
    responses={503: openapi.COMMON[503]},
    summary="200 when the database answers",
)
async def healthz(request: Request) -> JSONResponse:
    app: App = request.app.state.underway
    with contextlib.suppress(JobNotFound):
        await app.get_async(PROBE_ID)
    return JSONResponse(Health(status="ok").wire())
