"""Server-sent events: state, progress and log changes, found by cheap polling of the database.

The API and the dashboard serve the same streams, each behind its own access check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from ..app import App
from ..errors import JobNotFound, UnderwayError
from ..models import ACTIVE_STATES, Job, JobFilter

RECONNECT_MS = 2000
KEEPALIVE_S = 15.0
WATCHED_ACTIVE = 200
WATCHED_RECENT = 50


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How often streams look at the database and how long one stream lasts."""

    poll_s: float = 0.5
    max_s: float = 300.0


@dataclass(slots=True)
class Seen:
    """What a stream has already told the client about one job."""

    state: str | None = None
    progress: tuple[float, str | None] | None = None
    logs: int = 0


@dataclass(slots=True)
class Watch:
    """Turns successive reads of jobs into the events that describe their changes."""

    app: App
    seen: dict[str, Seen] = field(default_factory=dict)
    counter: int = 0

    async def changes(self, job: Job) -> list[str]:
        seen = self.seen.setdefault(job.id, Seen())
        events = []
        if seen.state != job.state.value:
            seen.state = job.state.value
            events.append(self.event("state", _state_data(job)))
        progress = (job.progress, job.message)
        if seen.progress != progress:
            seen.progress = progress
            data = {"jobId": job.id, "progress": job.progress, "message": job.message}
            events.append(self.event("progress", data))
        if job.log_count > seen.logs:
            for entry in await self.app.logs_async(job.id, seen.logs, job.log_count - seen.logs):
                seen.logs += 1
                data = {"jobId": job.id, "seq": seen.logs, "level": entry.level}
                data |= {"at": entry.at.isoformat(), "message": entry.message}
                events.append(self.event("log", data))
        return events

    def baseline(self, job: Job) -> None:
        self.seen[job.id] = Seen(job.state.value, (job.progress, job.message), job.log_count)

    def event(self, kind: str, data: dict[str, Any]) -> str:
        self.counter += 1
        return f"id: {self.counter}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


def _state_data(job: Job) -> dict[str, Any]:
    return {"jobId": job.id, "name": job.name, "state": job.state.value, "attempt": job.attempt}


def event_stream(chunks: AsyncIterator[str]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)


class Pacer:
    """Paces a stream: one poll interval per tick, keep-alives, a deadline, client departure."""

    def __init__(self, request: Request, settings: StreamSettings) -> None:
        self.request = request
        self.settings = settings
        self.deadline = time.monotonic() + settings.max_s
        self.last_sent = time.monotonic()

    def sent(self) -> None:
        self.last_sent = time.monotonic()

    async def tick(self) -> bool:
        """Sleep one poll interval; False once the client left or the stream's time is up."""
        await asyncio.sleep(self.settings.poll_s)
        if time.monotonic() >= self.deadline:
            return False
        return not await self.request.is_disconnected()

    def paced(self, chunks: list[str]) -> list[str]:
        """What to send now: `chunks`, or a keep-alive comment when nothing was sent for a
        while."""
        if chunks:
            self.sent()
            return chunks
        comment = self.keepalive()
        return [] if comment is None else [comment]

    def keepalive(self) -> str | None:
        if time.monotonic() - self.last_sent < KEEPALIVE_S:
            return None
        self.sent()
        return ": keep-alive\n\n"


async def job_stream(
    request: Request, app: App, job: Job, settings: StreamSettings
) -> AsyncIterator[str]:
    """Events of one job; ends after the job finishes (or is deleted)."""
    watch, pacer = Watch(app), Pacer(request, settings)
    yield f"retry: {RECONNECT_MS}\n\n"
    try:
        while True:
            for chunk in pacer.paced(await watch.changes(job)):
                yield chunk
            if job.state.is_finished or not await pacer.tick():
                return
            job = await app.get_async(job.id)
    except JobNotFound:
        yield watch.event("deleted", {"jobId": job.id})
    except UnderwayError as exc:
        yield watch.event("error", {"message": str(exc)})


async def _watched_jobs(app: App, watch: Watch) -> list[Job]:
    """Active and recent jobs, plus jobs that left the active set since the last look."""
    active = await app.list_page_async(JobFilter(states=tuple(ACTIVE_STATES), limit=WATCHED_ACTIVE))
    recent = await app.list_page_async(JobFilter(limit=WATCHED_RECENT))
    jobs = {job.id: job for job in [*recent.jobs, *active.jobs]}
    for job_id, seen in list(watch.seen.items()):
        if job_id in jobs:
            continue
        if seen.state in {s.value for s in ACTIVE_STATES}:
            try:
                jobs[job_id] = await app.get_async(job_id)
                continue
            except JobNotFound:
                pass
        del watch.seen[job_id]
    return list(jobs.values())


async def all_jobs_stream(
    request: Request, app: App, settings: StreamSettings
) -> AsyncIterator[str]:
    """Events of every job that changes while the stream is open."""
    watch, pacer = Watch(app), Pacer(request, settings)
    try:
        for job in await _watched_jobs(app, watch):
            watch.baseline(job)
        yield f"retry: {RECONNECT_MS}\n\n"
        while await pacer.tick():
            jobs = await _watched_jobs(app, watch)
            chunks = [chunk for job in jobs for chunk in await watch.changes(job)]
            for chunk in pacer.paced(chunks):
                yield chunk
    except UnderwayError as exc:
        yield watch.event("error", {"message": str(exc)})
