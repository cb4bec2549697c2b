"""Scheduler: fires due cron ticks; any number may run, the database keeps each tick to one job."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..backends.base import Backend
from ..errors import UnderwayError
from ..log_throttling import ThrottledLog
from ..models import Recurring
from ..recurring import tick_to_fire
from .host import SchedulerHost
from .periodic import PeriodicService

log = logging.getLogger("underway.scheduler")


class Scheduler(PeriodicService):
    """Every `interval_s`: for each due definition, fire at most one tick and move to the next."""

    name = "scheduler"

    def __init__(
        self, app: SchedulerHost, backend: Backend, interval_s: float, misfire_grace_s: float
    ):
        super().__init__(interval_s)
        self._app = app
        self._backend = backend
        self._grace = timedelta(seconds=misfire_grace_s)
        self._synced = False
        self._problems = ThrottledLog(log, interval_s=60)

    async def tick(self) -> None:
        if not self._synced:
            await self._backend.sync_recurring(self._app.declared_recurring(await self._app.now()))
            self._synced = True
        now = await self._app.now()
        for recurring in await self._backend.due_recurring(now):
            await self.fire(recurring, now)

    async def fire(self, recurring: Recurring, now: datetime) -> None:
        """Fire the one tick due for `recurring` (if any) and advance it past `now`."""
        assert recurring.next_fire_at is not None
        definition = self._app.registry.get(recurring.job_name)
        if definition is None:
            self._problems.error(
                recurring.name,
                "recurring %r: job %r is not registered in this process",
                recurring.name,
                recurring.job_name,
            )
            return
        schedule = self._app.schedule_for(recurring.cron, recurring.timezone)
        fire_at = tick_to_fire(
            schedule, recurring.next_fire_at, now, recurring.catch_up, self._grace
        )
        job = None
        if fire_at is not None:
            try:
                job = self._app.recurring_job(recurring, fire_at)
            except UnderwayError as exc:
                self._problems.error(
                    recurring.name, "recurring %r cannot fire: %s", recurring.name, exc
                )
        result = await self._backend.fire_recurring(
            recurring.id, recurring.next_fire_at, job, schedule.next_after(now)
        )
        if result is not None:
            log.info(
                "recurring %r fired for %s: job %s %s",
                recurring.name,
                fire_at,
                result.id,
                result.state.value,
            )
