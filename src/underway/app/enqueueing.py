"""Enqueueing: turn a call into a validated row, store it, and check what storage answered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend
from ..errors import ConfigurationError, DuplicateJobError
from ..job_options import aware_run_at, seconds
from ..jobs import JobDefinition
from ..models import EnqueueResult, NewJob
from .enqueue_options import EnqueueOptions
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
    """Stores enqueue requests through the app's storage, each with its followers."""

    def __init__(self, storage: Storage, followers: Followers = lambda new: []) -> None:
        self._storage = storage
        self._followers = followers

    def store_blocking(self, request: EnqueueRequest) -> EnqueueResult:
        """Store from a sync caller; a plain job goes straight to the backend, no loop hop."""
        runtime = self._storage.runtime
        followers = self._followers(request.new)
        if followers:
            return runtime.call(self.store(request, followers))
        if request.connection is None and not runtime.in_loop_thread():
            backend = self._storage.opened or runtime.call(self._storage.backend())
            result = backend.enqueue_blocking(request.new)
            if result is not None:
                return checked(request, result)
        return runtime.call(self.store(request))

    async def store(
        self, request: EnqueueRequest, followers: list[NewJob] | None = None
    ) -> EnqueueResult:
        new = request.new
        if followers is None:
            followers = self._followers(new)
        if request.connection is None and not followers:
            result = await self._storage.call(lambda b: b.enqueue(new))
        elif request.connection is None:
            result = (await self._store_rows([new], followers))[0]
        else:
            result = await self._store_on(request.connection, new)
            if fresh(result, new):  # in the caller's transaction, as the job itself
                for follower in followers:
                    await self._store_on(request.connection, follower)
        return checked(request, result)

    async def store_many(self, rows: list[NewJob]) -> list[EnqueueResult]:
        """Store many validated jobs (`JobDefinition.new_jobs`) in a single transaction."""
        return await self._store_rows(rows, [f for row in rows for f in self._followers(row)])

    async def _store_rows(self, rows: list[NewJob], followers: list[NewJob]) -> list[EnqueueResult]:
        """Store rows with their followers in one transaction where each row surely keeps its
        own id; else the rows first, then the followers of those stored as themselves."""
        if all(stored_as_given(row) for row in rows):
            stored = await self._storage.call(lambda b: b.enqueue_many([*rows, *followers]))
            return stored[: len(rows)]
        stored = await self._storage.call(lambda b: b.enqueue_many(rows))
        kept = {row.id for row, result in zip(rows, stored, strict=True) if fresh(result, row)}
        later = [f for f in followers if f.after[0] in kept]
        if later:
            await self._storage.call(lambda b: b.enqueue_many(later))
        return stored

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


def stored_as_given(new: NewJob) -> bool:
    """Whether storing `new` surely inserts it under its own id (no uniqueness policy or
    idempotency key could resolve it to another job): then its delivery goes in the same
    transaction."""
    return new.unique is None and new.idempotency_key is None and new.queue_limit is None


def fresh(result: EnqueueResult, new: NewJob) -> bool:
    """Whether an enqueue stored `new` itself (not joined to, nor skipped for, another)."""
    return result.id == new.id and not result.joined and not result.skipped
