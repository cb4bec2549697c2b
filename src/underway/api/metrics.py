"""`GET /metrics`: job counts, throughput, workers and HTTP requests in Prometheus format."""

from __future__ import annotations

import time

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app import App
from ..models import JobState
from ..web.urls import route_path
from . import openapi
from .auth import can_view
from .paths import path_index


class ApiMetrics:
    """The API's own registry, so that several APIs in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Gauge("underway_jobs", "Jobs per state.", ["state"], registry=self.registry)
        self.finished = Gauge(
            "underway_jobs_finished",
            "Jobs finished in the trailing window.",
            ["window"],
            registry=self.registry,
        )
        self.workers = Gauge("underway_workers", "Live workers.", registry=self.registry)
        self.requests = Counter(
            "underway_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "underway_http_request_duration_seconds",
            "Time to answer HTTP requests.",
            ["route"],
            registry=self.registry,
        )

    async def refresh(self, app: App) -> None:
        stats = await app.stats_async()
        for state in JobState:
            self.jobs.labels(state.value).set(stats.counts.get(state.value, 0))
        self.finished.labels("1m").set(stats.finished_last_minute)
        self.finished.labels("1h").set(stats.finished_last_hour)
        self.workers.set(len(await app.workers_async()))


class RequestMetrics:
    """ASGI middleware counting each request by its route template, never its raw path."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    found = path_index(scope).match(route_path(scope))
    return "unmatched" if found is None else found[0]


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    operation_id="get_metrics",
    dependencies=[can_view],
    response_class=Response,
    responses=openapi.responses(
        {200: {"description": "Prometheus text format.", "content": {CONTENT_TYPE_LATEST: {}}}}
    ),
    summary="Prometheus metrics",
)
async def metrics(request: Request) -> Response:
    collected: ApiMetrics = request.app.state.metrics
    await collected.refresh(request.app.state.underway)
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
