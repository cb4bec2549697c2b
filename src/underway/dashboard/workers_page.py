"""The Workers page: live workers with the jobs they hold, and workers lost lately (stopped
heartbeating) with when they were last seen and what became of the jobs taken back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ..app import App
from ..backends.base import LIVE_WORKER_S
from ..history_models import WorkerLoss
from ..models import JobFilter, JobState
from ..queue_models import WorkerInfo
from .access import require_view
from .error_pages import guarded
from .history_pages import app_of
from .rendering import render

#: Lost workers are shown for this long after their last job was taken back.
LOST_SHOWN = timedelta(days=1)
#: Workers that stopped heartbeating are kept in storage a while (ten stall timeouts).
ANY_AGE_S = 7 * 86400.0
MAX_HELD_SHOWN = 500

router = APIRouter(include_in_schema=False)


@dataclass(slots=True)
class LostWorker:
    """A worker that stopped heartbeating, as the workers table and the losses know it."""

    id: str
    hostname: str | None
    pid: int | None
    last_seen_at: datetime | None
    losses: list[WorkerLoss] = field(default_factory=list)


def lost_workers(stale: list[WorkerInfo], losses: list[WorkerLoss]) -> list[LostWorker]:
    """Workers still stored but not live, and those whose jobs were taken back, newest
    first."""
    found: dict[str, LostWorker] = {
        w.id: LostWorker(w.id, w.hostname, w.pid, w.heartbeat_at) for w in stale
    }
    for loss in losses:
        worker = found.get(loss.worker_id)
        if worker is None:
            worker = found[loss.worker_id] = LostWorker(
                loss.worker_id, loss.hostname, loss.pid, loss.last_seen_at
            )
        worker.losses.append(loss)
    return sorted(found.values(), key=lambda w: w.last_seen_at or datetime.min, reverse=True)


def lost_since(worker: WorkerInfo, swept: dict[str, datetime]) -> bool:
    """Whether a sweep took the worker's jobs back after its last heartbeat."""
    lost_at = swept.get(worker.id)
    return lost_at is not None and lost_at >= worker.heartbeat_at


async def workers_context(app: App) -> dict[str, Any]:
    now = await app.now()
    every = await app.workers_async(ANY_AGE_S)
    losses = await app.worker_losses_async(now - LOST_SHOWN)
    live_since = now - timedelta(seconds=LIVE_WORKER_S)
    # Swept after its last heartbeat: lost, even while that heartbeat is recent.
    swept = {loss.worker_id: loss.lost_at for loss in reversed(losses)}
    live = [w for w in every if w.heartbeat_at >= live_since and not lost_since(w, swept)]
    stale = [w for w in every if w not in live]
    held = JobFilter(states=(JobState.RUNNING,), limit=MAX_HELD_SHOWN)
    running = {job.id: job for job in (await app.list_page_async(held)).jobs}
    return {"live": live, "lost": lost_workers(stale, losses), "running": running}


@router.get("/dashboard/workers")
@guarded
async def workers(request: Request) -> Response:
    viewer = require_view(request)
    context = await workers_context(app_of(request))
    return render(request, viewer, "workers.html", **context)


@router.get("/dashboard/live/workers")
@guarded
async def workers_live(request: Request) -> Response:
    viewer = require_view(request)
    context = await workers_context(app_of(request))
    return render(request, viewer, "_workers.html", **context)
