"""Recurring jobs at runtime: rows for the declarations in code, runs, and stored definitions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import RecurringNotFound
from ..jobs import JobDefinition
from ..models import CatchUp, EnqueueResult, NewJob, NewRecurring, Overlap, Recurring
from ..recurring import check_policies
from .registry import JobRegistry
from .storage import Storage


class RecurringJobs:
    """Builds recurring rows (from declarations or at runtime) and their runs; manages them."""

    def __init__(
        self,
        storage: Storage,
        jobs: JobRegistry,
        prepared: Callable[[list[NewJob]], list[NewJob]],
    ) -> None:
        self._storage = storage
        #: The declared jobs, their cron declarations and the tick source (read at each use).
        self._jobs = jobs
        #: A run's row as stored: traced, with its webhook delivery (`Enqueuer.prepared`).
        self._prepared = prepared

    def declared_rows(self, now: datetime) -> list[NewRecurring]:
        """Rows for the declarations in code, named after their jobs."""
        return [
            self.new_row(
                d.job_name,
                d.job_name,
                d.cron,
                d.timezone,
                d.args,
                now,
                overlap=d.overlap,
                catch_up=d.catch_up,
                from_code=True,
            )
            for d in self._jobs.declared.values()
        ]

    def new_row(
        self,
        name: str,
        job_name: str,
        cron: str,
        timezone: str,
        args: dict[str, Any],
        now: datetime,
        *,
        enabled: bool = True,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
        from_code: bool = False,
    ) -> NewRecurring:
        """A recurring definition to store, its first run computed from `now`."""
        check_policies(overlap, catch_up)
        schedule = self._jobs.schedule_for(cron, timezone)
        return NewRecurring(
            id=str(uuid.uuid4()),
            name=name,
            job_name=job_name,
            cron=cron,
            timezone=timezone,
            args=args,
            enabled=enabled,
            overlap=overlap,
            catch_up=catch_up,
            from_code=from_code,
            next_fire_at=schedule.next_after(now),
        )

    def run_of(self, recurring: Recurring, fire_at: datetime | None) -> NewJob:
        """The job one run of a recurring definition stores."""
        definition = self._jobs.definition(recurring.job_name)
        lane = f"recurring:{recurring.id}" if recurring.overlap == "queue" else None
        run = definition.new_job(
            recurring.args, recurring_id=recurring.id, fire_at=fire_at, serial_lane=lane
        )
        return self._prepared([run])[0]

    async def add(
        self,
        name: str,
        cron: str,
        definition: JobDefinition,
        args: dict[str, Any] | None,
        *,
        enabled: bool,
        timezone: str,
        overlap: Overlap,
        catch_up: CatchUp,
    ) -> str:
        """Store a recurring definition of `definition`'s job; returns its id."""
        data = definition.validate(args or {})

        async def add() -> str:
            backend = await self._storage.backend()
            new = self.new_row(
                name,
                definition.name,
                cron,
                timezone,
                data,
                await self._storage.now(),
                enabled=enabled,
                overlap=overlap,
                catch_up=catch_up,
            )
            return (await backend.add_recurring(new)).id

        return await self._storage.runtime.call_async(add())

    async def get(self, recurring_id: str) -> Recurring:
        found = await self._storage.call(lambda b: b.get_recurring(recurring_id))
        if found is None:
            raise RecurringNotFound(recurring_id)
        return found

    async def toggle(self, recurring_id: str) -> Recurring:
        """Disable an enabled definition or enable a disabled one (from the next tick on)."""

        async def toggle() -> Recurring:
            backend = await self._storage.backend()
            current = await self.get(recurring_id)
            schedule = self._jobs.schedule_for(current.cron, current.timezone)
            next_at = schedule.next_after(await self._storage.now())
            return await backend.set_recurring_enabled(recurring_id, not current.enabled, next_at)

        return await self._storage.runtime.call_async(toggle())

    async def remove(self, recurring_id: str) -> None:
        if not await self._storage.call(lambda b: b.remove_recurring(recurring_id)):
            raise RecurringNotFound(recurring_id)

    async def trigger(self, recurring_id: str) -> EnqueueResult:
        """Store a run of a recurring definition now, outside its schedule."""
        recurring = await self.get(recurring_id)
        job = self.run_of(recurring, None)
        return await self._storage.call(lambda b: b.enqueue_recurring_run(job))
