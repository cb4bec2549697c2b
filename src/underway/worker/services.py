"""The optional periodic services a worker runs beside its claim loop: the sweeper (stalled
jobs back, expired jobs pruned) and the cron scheduler, as its settings ask."""

from __future__ import annotations

from ..backends.base import Backend
from ..backends.policy import LossBounds
from ..config import WorkerSettings
from .host import Host
from .periodic import PeriodicService
from .scheduler import Scheduler
from .sweeper import StalledJobSweeper


def optional_services(
    app: Host, backend: Backend, settings: WorkerSettings
) -> list[PeriodicService]:
    """The sweeper and the scheduler, each if the settings turn it on."""
    services: list[PeriodicService] = []
    if settings.sweeper:
        services.append(
            StalledJobSweeper(
                backend,
                settings.sweep_interval,
                settings.stall_timeout,
                settings.prune_interval,
                loss_bounds(app, settings),
                # One poll apart: idle workers claim them in different polls.
                last_chance_spacing_s=settings.poll_interval,
            )
        )
    if settings.scheduler:
        services.append(
            Scheduler(app, backend, settings.scheduler_interval, settings.misfire_grace)
        )
    return services


def loss_bounds(app: Host, settings: WorkerSettings) -> LossBounds:
    """The worker's `max_losses`, overridden by the jobs that declare their own."""
    per_job = {
        name: definition.options.max_losses
        for name, definition in app.registry.items()
        if definition.options.max_losses is not None
    }
    return LossBounds(settings.max_losses, per_job)
