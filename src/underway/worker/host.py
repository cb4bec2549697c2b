"""What a worker needs of the application that runs it: the App provides it, and `worker/`
knows only this, never the App itself."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ..backends.base import Backend
from ..context import JobContext
from ..job_options import Hook
from ..jobs import JobDefinition
from ..models import ClaimedJob, JobState, NewJob, NewRecurring, QueueLimits, Recurring
from ..recurring import Schedule


class WorkerHost(Protocol):
    """The job registry, the queues to serve and their limits, storage for the heartbeat, and
    the app's hooks."""

    registry: dict[str, JobDefinition]

    def queues(self) -> tuple[str, ...]: ...

    def declared_queues(self) -> list[QueueLimits]: ...

    def new_backend(self) -> Backend: ...

    def lifespan_context(self) -> contextlib.AbstractAsyncContextManager[Any]: ...

    def job_scope_context(
        self, ctx: JobContext, job: ClaimedJob
    ) -> contextlib.AbstractAsyncContextManager[Any] | None: ...

    def finish_hooks(
        self, definition: JobDefinition | None, state: JobState | None
    ) -> list[Hook]: ...


class SchedulerHost(Protocol):
    """What the scheduler reads of the app's recurring jobs, and the time they use."""

    registry: dict[str, JobDefinition]
    schedule_for: Callable[[str, str], Schedule]

    async def now(self) -> datetime: ...

    def declared_recurring(self, now: datetime) -> list[NewRecurring]: ...

    def recurring_job(self, recurring: Recurring, fire_at: datetime | None) -> NewJob: ...


class Host(WorkerHost, SchedulerHost, Protocol):
    """Everything a worker with a scheduler needs."""
