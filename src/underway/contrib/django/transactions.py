"""Enqueueing that joins the current Django transaction: the job exists only if it commits.

On the PostgreSQL database the project's jobs live in, the job is stored through Django's
own connection, inside the open transaction. Anywhere else (SQLite, another database) the
call is validated at once and the job stored by `transaction.on_commit`. Outside a
transaction both store the job at once.
"""

from __future__ import annotations

from typing import Any, Generic, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from ...app.enqueueing import enqueue_request
from ...app.handle import JobHandle
from ...app.job_function import JobFunction
from ...errors import UnderwayError
from .shared_connection import shared_connection, underway_json

P = ParamSpec("P")
R = TypeVar("R")


class NotStoredYet(UnderwayError):
    """The job of an `Enqueued` is stored when its transaction commits, not before."""


class Enqueued(Generic[R]):
    """An enqueue bound to a Django transaction: its job's handle once the job is stored."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._handle: JobHandle[R] | None = None

    def __repr__(self) -> str:
        return f"<Enqueued {self._handle!r}>" if self._handle else "<Enqueued at commit>"

    @property
    def stored(self) -> bool:
        """Whether the job is stored (in the open transaction on PostgreSQL; else committed)."""
        return self._handle is not None

    @property
    def handle(self) -> JobHandle[R]:
        """The job's handle; raises `NotStoredYet` before the transaction has committed."""
        if self._handle is None:
            raise NotStoredYet(
                f"the job is stored when the transaction on database {self.using!r} commits "
                "(and never if it rolls back); read .handle after the commit"
            )
        return self._handle

    def _stored(self, handle: JobHandle[Any]) -> None:
        self._handle = handle


class InTransaction(Generic[P, R]):
    """A job whose enqueues join the current transaction of one Django database."""

    def __init__(self, job: JobFunction[P, R], using: str) -> None:
        self.job = job
        self.using = using

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Enqueued[R]:
        """Validate the call now (a bad one raises here, nothing stored) and store the job
        in the transaction, or at its commit; at once if no transaction is open."""
        enqueued: Enqueued[R] = Enqueued(self.using)
        raw = shared_connection(self.job.app, self.using)
        if raw is not None and not connections[self.using].get_autocommit():
            with underway_json(raw):
                enqueued._stored(self.job.options(connection=raw).enqueue(*args, **kwargs))
            return enqueued
        job, options = self.job, self.job.enqueue_options
        bound = job.definition.bind(args, kwargs, options.results_into)
        enqueue_request(job.definition, bound, options, force_join=False)  # raises if bad
        data = job.definition.validate(bound, options.results_into)  # as of this call

        def store() -> None:
            enqueued._stored(job.app.enqueue_call(job.definition, data, options))

        transaction.on_commit(store, using=self.using)
        return enqueued

    async def enqueue_async(self, *args: P.args, **kwargs: P.kwargs) -> Enqueued[R]:
        """`enqueue` from async code, in the thread where Django runs this context's
        database work (as Django's own async ORM methods do)."""
        return await sync_to_async(self.enqueue, thread_sensitive=True)(*args, **kwargs)


def in_transaction(job: JobFunction[P, R], using: str | None = None) -> InTransaction[P, R]:
    """`job` with enqueues that join the transaction open on Django database `using`
    (default: `default`, as `transaction.atomic()`): the job exists only if it commits.
    Options carry through: `in_transaction(job.options(queue="fast")).enqueue(...)`."""
    if not isinstance(job, JobFunction):
        raise TypeError(f"in_transaction takes a job object (from @app.job), not {job!r}")
    return InTransaction(job, using or DEFAULT_DB_ALIAS)
