"""The App's recurring-job methods: declare, add, list, toggle, remove and trigger cron jobs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigurationError, RecurringNotFound
from .handle import JobHandle
from .jobs import JobDefinition
from .models import CatchUp, NewJob, NewRecurring, Overlap, Recurring
from .recurring import CronSchedule, Schedule, check_policies

if TYPE_CHECKING:
    from .app import JobRef
    from .backends.base import Backend
    from .runtime import Runtime

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RecurringDeclaration:
    """A cron schedule declared in code with `@app.job(cron=...)`."""

    job_name: str
    cron: str
    timezone: str
    args: dict[str, Any]
    overlap: Overlap
    catch_up: CatchUp


def cron_schedule(cron: str, timezone: str) -> Schedule:
    """The default tick source: a cron expression in a timezone."""
    return CronSchedule(cron, timezone)


class RecurringMixin:
    """Recurring-job methods of App (kept apart so each module stays readable)."""

    if TYPE_CHECKING:
        runtime: Runtime
        schedule_for: Callable[[str, str], Schedule]
        _declared: dict[str, RecurringDeclaration]

        def definition(self, job: JobRef) -> JobDefinition: ...

        async def backend(self) -> Backend: ...

        async def now(self) -> datetime: ...

        async def _call(self, fn: Callable[[Backend], Coroutine[Any, Any, R]]) -> R: ...

    def declare_recurring(
        self, definition: JobDefinition, cron: str, options: dict[str, Any]
    ) -> None:
        """Check a `@app.job(cron=...)` declaration now, so a mistake fails at import time."""
        timezone = options.pop("timezone", "UTC")
        overlap, catch_up = options.pop("overlap", "skip"), options.pop("catch_up", "one")
        check_policies(overlap, catch_up)
        self.schedule_for(cron, timezone)
        args = definition.validate(options.pop("cron_args", None) or {})
        self._declared[definition.name] = RecurringDeclaration(
            definition.name, cron, timezone, args, overlap, catch_up
        )

    def declared_recurring(self, now: datetime) -> list[NewRecurring]:
        """Rows for the declarations in code, named after their jobs."""
        return [
            self._new_recurring(
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
            for d in self._declared.values()
        ]

    def _new_recurring(
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
        check_policies(overlap, catch_up)
        schedule = self.schedule_for(cron, timezone)
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

    def recurring_job(self, recurring: Recurring, fire_at: datetime | None) -> NewJob:
        """The job one run of a recurring definition stores."""
        definition = self.definition(recurring.job_name)
        lane = f"recurring:{recurring.id}" if recurring.overlap == "queue" else None
        return definition.new_job(
            recurring.args, recurring_id=recurring.id, fire_at=fire_at, serial_lane=lane
        )

    def add_recurring(
        self,
        name: str,
        cron: str,
        job: JobRef,
        args: dict[str, Any] | None = None,
        *,
        timezone: str = "UTC",
        enabled: bool = True,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
    ) -> str:
        """Store a recurring job at runtime; returns its id. Bad cron/timezone/args raise."""
        return self.runtime.call(
            self.add_recurring_async(
                name,
                cron,
                job,
                args,
                timezone=timezone,
                enabled=enabled,
                overlap=overlap,
                catch_up=catch_up,
            )
        )

    async def add_recurring_async(
        self,
        name: str,
        cron: str,
        job: JobRef,
        args: dict[str, Any] | None = None,
        *,
        timezone: str = "UTC",
        enabled: bool = True,
        overlap: Overlap = "skip",
        catch_up: CatchUp = "one",
    ) -> str:
        definition = self.definition(job)
        data = definition.validate(args or {})

        async def add() -> str:
            backend = await self.backend()
            new = self._new_recurring(
                name,
                definition.name,
                cron,
                timezone,
                data,
                await self.now(),
                enabled=enabled,
                overlap=overlap,
                catch_up=catch_up,
            )
            return (await backend.add_recurring(new)).id

        return await self.runtime.call_async(add())

    def list_recurring(self) -> list[Recurring]:
        """Every recurring definition with its last run, that run's state and its next run."""
        return self.runtime.call(self.list_recurring_async())

    async def list_recurring_async(self) -> list[Recurring]:
        return await self._call(lambda b: b.list_recurring())

    def get_recurring(self, recurring_id: str) -> Recurring:
        return self.runtime.call(self.get_recurring_async(recurring_id))

    async def get_recurring_async(self, recurring_id: str) -> Recurring:
        found = await self._call(lambda b: b.get_recurring(recurring_id))
        if found is None:
            raise RecurringNotFound(recurring_id)
        return found

    def toggle_recurring(self, recurring_id: str) -> Recurring:
        """Disable an enabled definition or enable a disabled one (from the next tick on)."""
        return self.runtime.call(self.toggle_recurring_async(recurring_id))

    async def toggle_recurring_async(self, recurring_id: str) -> Recurring:
        async def toggle() -> Recurring:
            backend = await self.backend()
            current = await self.get_recurring_async(recurring_id)
            schedule = self.schedule_for(current.cron, current.timezone)
            next_at = schedule.next_after(await self.now())
            return await backend.set_recurring_enabled(recurring_id, not current.enabled, next_at)

        return await self.runtime.call_async(toggle())

    def remove_recurring(self, recurring_id: str) -> None:
        self.runtime.call(self.remove_recurring_async(recurring_id))

    async def remove_recurring_async(self, recurring_id: str) -> None:
        if not await self._call(lambda b: b.remove_recurring(recurring_id)):
            raise RecurringNotFound(recurring_id)

    def trigger_recurring(self, recurring_id: str) -> JobHandle[Any]:
        """Run a recurring job now, outside its schedule."""
        return self.runtime.call(self.trigger_recurring_async(recurring_id))

    async def trigger_recurring_async(self, recurring_id: str) -> JobHandle[Any]:
        recurring = await self.get_recurring_async(recurring_id)
        job = self.recurring_job(recurring, None)
        result = await self._call(lambda b: b.enqueue_recurring_run(job))
        return JobHandle(self, result.job)  # type: ignore[arg-type]


def bad_cron_option(option: str) -> ConfigurationError:
    return ConfigurationError(f"{option} is only valid together with cron=")
