"""Draining: run every due job in this process until nothing is due (tests, inline mode)."""

from __future__ import annotations

from collections.abc import Iterable, Sized
from dataclasses import dataclass
from typing import Protocol

from ..backends.base import Backend
from ..config import WorkerSettings
from ..errors import ConfigurationError
from ..models import Job
from ..worker import Worker
from ..worker.collector import fewer_collections
from ..worker.host import Host
from ..worker.scheduler import Scheduler


class DrainHost(Host, Protocol):
    """What a drain uses of the app: what a worker uses, its backend and running workers."""

    @property
    def running_workers(self) -> Sized: ...

    async def backend(self) -> Backend: ...


#: A drain polls this often while its last jobs' outcomes are written.
DRAIN_POLL_S = 0.005


@dataclass(frozen=True, slots=True)
class DrainSettings:
    """How a drain runs the jobs: how many at once, from which queues, and which jobs."""

    concurrency: int = 10
    queues: tuple[str, ...] | None = None
    jobs: tuple[str, ...] | None = None


async def drain_app(app: DrainHost, settings: DrainSettings) -> list[Job]:
    """Fire due cron ticks, take back jobs of workers lost past the stall timeout, then run
    due jobs (and the jobs they enqueue) with the app's own code until none is due or
    running. Returns each job that ran, as it ended, in the order first claimed."""
    if app.running_workers:
        raise ConfigurationError(
            "drain() runs the jobs itself, but this app has a worker running "
            "(app.start_worker()); stop it first, or wait on the jobs instead of draining"
        )
    backend = await app.backend()
    worker_settings = WorkerSettings(
        concurrency=settings.concurrency,
        queues=settings.queues,
        jobs=settings.jobs,
        burst=True,
        poll_interval=DRAIN_POLL_S,
        sweeper=False,
        scheduler=False,
    )
    await Scheduler(app, backend, 1.0, worker_settings.misfire_grace).tick()
    await backend.sweep(worker_settings.stall_timeout, worker_settings.max_losses)
    worker = Worker(app, backend, worker_settings)
    with fewer_collections():
        await worker.run()
        return await backend.get_many(list(dict.fromkeys(worker.claimed)))


def names(queues: Iterable[str] | None) -> tuple[str, ...] | None:
    """Queue names as the settings take them; a lone string is one queue, not letters."""
    if queues is None:
        return None
    return (queues,) if isinstance(queues, str) else tuple(queues)
