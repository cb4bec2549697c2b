"""Enqueueing: turn a call into a validated row, store it, and check what storage answered."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend
from ..errors import ConfigurationError, DuplicateJobError
from ..job_options import aware_run_at, seconds
from ..jobs import JobDefinition
from ..models import EnqueueResult, NewJob
from .enqueue_options import EnqueueOptions
from .registry import EnqueueScope
from .storage import Storage


@dataclass(frozen=True, slots=True)
class EnqueueRequest:
    """A validated enqueue call: the row to store and how to report a duplicate."""

    name: str
    new: NewJob
    connection: Any
    raise_on_duplicate: bool


def enqueue_request(
    definition: JobDefinition,
    args: dict[str, Any],
    options: EnqueueOptions,
    *,
    force_join: bool,
) -> EnqueueRequest:
    """Validate a call and build the row to store (raises before anything is stored)."""
    on_duplicate = options.on_duplicate
    if on_duplicate not in (None, "raise"):
        raise ConfigurationError(f"on_duplicate must be None or 'raise', got {on_duplicate!r}")
    new = definition.new_job(
        args,
        delay=seconds(options.delay, "delay") or 0.0,
        run_at=aware_run_at(options.run_at),
        priority=options.priority,
        queue=options.queue,
        idempotency_key=options.idempotency_key,
        record_skipped=on_duplicate is None,
        force_join=force_join,
        dependencies=options.dependencies(),
    )
    return EnqueueRequest(definition.name, new, options.connection, on_duplicate == "raise")


#: The jobs to store with a new job that wait for it (its webhook delivery), if any.
Followers = Callable[[NewJob], list[NewJob]]


class Enqueuer:
    """Stores enqueue requests through the app's storage, each with its followers, which
    the backend stores in the same transaction if the job is stored as itself."""

    def __init__(
        self,
        storage: Storage,
        followers: Followers = lambda new: [],
        scopes: list[EnqueueScope] | None = None,
    ) -> None:
        self._storage = storage
        self._followers = followers
        #: The integrations' scopes around each enqueue (the app's list, as they add to it).
        self._scopes = [] if scopes is None else scopes

    def prepared(self, rows: list[NewJob]) -> list[NewJob]:
        """Rows stored otherwise than by `enqueue` (a workflow's jobs, a cron run): amended
        by the integrations' enqueue scopes, each carrying its followers."""
        return [self.led(row) for row in amended_rows(self._scopes, rows)]

    def led(self, new: NewJob) -> NewJob:
        """`new` carrying the jobs to store with it."""
        if new.followers:
            return new
        followers = self._followers(new)
        return dataclasses.replace(new, followers=tuple(followers)) if followers else new

    def store_blocking(self, request: EnqueueRequest) -> EnqueueResult:
        """Store from a sync caller; a plain job goes straight to the backend, no loop hop."""
        runtime = self._storage.runtime
        new = self.led(request.new)
        if new.plain and request.connection is None and not runtime.in_loop_thread():
            backend = self._storage.opened or runtime.call(self._storage.backend())
            result = backend.enqueue_blocking(new)
            if result is not None:
                return checked(request, result)
        return runtime.call(self.store(dataclasses.replace(request, new=new)))

    async def store(self, request: EnqueueRequest) -> EnqueueResult:
        new = self.led(request.new)
        if request.connection is None:
            result = await self._storage.call(lambda b: b.enqueue(new))
        else:
            result = await self._store_on(request.connection, new)
        return checked(request, result)

    async def store_many(self, rows: list[NewJob]) -> list[EnqueueResult]:
        """Store many validated jobs (`JobDefinition.new_jobs`) in a single transaction."""
        led = [self.led(row) for row in rows]
        return await self._storage.call(lambda b: b.enqueue_many(led))

    async def _store_on(self, connection: Any, new: NewJob) -> EnqueueResult:
        """Transactional enqueue on the caller's psycopg connection, in the caller's thread/loop."""
        backend = await self._storage.call(_opened)
        enqueue_on = getattr(backend, "enqueue_on", None)
        if enqueue_on is None:
            raise ConfigurationError("enqueue(connection=...) needs the PostgreSQL backend")
        result: EnqueueResult = await enqueue_on(connection, new)
        return result


def checked(request: EnqueueRequest, result: EnqueueResult) -> EnqueueResult:
    """The result, unless the caller asked to hear of a duplicate and this is one."""
    if request.raise_on_duplicate and (result.joined or result.skipped):
        active = result.job.duplicate_of or result.id
        raise DuplicateJobError(request.name, active)
    return result


async def _opened(backend: Backend) -> Backend:
    return backend


def amended_rows(scopes: list[EnqueueScope], rows: list[NewJob]) -> list[NewJob]:
    """Many rows (`enqueue_many`) as the scopes amend them, each row's scopes entered and left
    on their own, so that each row's record is a sibling under the caller's, not the child
    of the row before it."""
    if not scopes:
        return rows
    amended = []
    for new in rows:
        with contextlib.ExitStack() as stack:
            for scope in scopes:
                new = stack.enter_context(scope(new))
        amended.append(new)
    return amended
