"""JobExecution: one attempt of one job on a worker, from call to recorded outcome."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import traceback
from collections.abc import Coroutine
from concurrent.futures import Executor
from typing import Any, Protocol

from ..backends.base import Backend
from ..backends.policy import CANCELLED_BY_REQUEST
from ..context import JobContext
from ..errors import JobTimeout, Snooze, UnknownJobError
from ..faults import crash_point
from ..jobs import JobDefinition
from ..models import ClaimedJob, JobError, Lease, Outcome
from .dependencies import dependent_arguments
from .host import WorkerHost
from .outcomes import OutcomeWriter
from .progress import ProgressFlusher
from .retry_rules import retry_ruling

log = logging.getLogger("underway.worker")

CANCEL_REQUESTED = CANCELLED_BY_REQUEST
SHUTTING_DOWN = "worker shutting down"
LEASE_LOST = "lease lost"


class ExecutionOwner(Protocol):
    """What an execution is given by the worker that runs it (the worker provides it): where
    it runs, where its progress and outcome go, and whom it tells about its slot."""

    @property
    def id(self) -> str: ...

    @property
    def app(self) -> WorkerHost: ...

    @property
    def resources(self) -> Any: ...

    @property
    def executor(self) -> Executor: ...

    @property
    def backend(self) -> Backend: ...

    @property
    def flusher(self) -> ProgressFlusher: ...

    @property
    def outcomes(self) -> OutcomeWriter: ...

    def slot_stuck(self, execution: JobExecution) -> None: ...

    def slot_freed(self, execution: JobExecution) -> None: ...

    def slot_released(self, execution: JobExecution) -> None: ...

    def execution_ended(self, execution: JobExecution) -> None: ...

    async def requeue(self, lease: Lease) -> None: ...

    def job_scope(self, ctx: JobContext) -> contextlib.AbstractAsyncContextManager[Any] | None: ...

    async def after_finish(self, definition: JobDefinition | None, outcome: Outcome) -> None: ...


class Interrupted(Exception):
    """The job's function was stopped from outside (cancel, shutdown, lost lease)."""


class JobExecution:
    """Runs a claimed job with its context, scope and timeout, then records how it ended."""

    __slots__ = (
        "_cancels_sent",
        "_ended",
        "_ended_future",
        "_inline",
        "_inner",
        "_is_async",
        "claimed_at",
        "ctx",
        "interrupted",
        "job",
        "lease",
        "lost",
        "recording",
        "released",
        "task",
        "timed_out",
        "worker",
    )

    def __init__(self, job: ClaimedJob, worker: ExecutionOwner, claimed_at: float) -> None:
        self.job = job
        self.worker = worker
        self.lease = Lease(job.id, job.attempt, worker.id)
        #: When the claim began (monotonic): never later than the database's time of the claim.
        self.claimed_at = claimed_at
        self.ctx = JobContext(
            lease=self.lease,
            name=job.name,
            args=job.args,
            max_attempts=job.max_attempts,
            sink=worker.flusher.buffer,
            resources=worker.resources,
        )
        self.ctx.workflow_id = job.workflow_id
        self.lost = False
        #: Its outcome is being recorded: the row may already be finished, the lease is not lost.
        self.recording = False
        #: Its code returned: the worker counts its slot free while the outcome is written.
        self.released = False
        self.interrupted = False
        self.timed_out = False
        self._inner: asyncio.Future[Any] | None = None
        self._is_async = False
        #: The task an async job without a timeout runs in (this execution's own), while its
        #: code runs; and how many cancels this execution sent it.
        self._inline: asyncio.Task[Any] | None = None
        self._cancels_sent = 0
        #: The worker's task that runs `run()`, while it does.
        self.task: asyncio.Task[None] | None = None
        self._ended = False
        self._ended_future: asyncio.Future[None] | None = None

    def cancel(self, reason: str) -> None:
        """Ask the job to stop: set `ctx.cancelled` and cancel an async job's task."""
        self.ctx.request_cancel(reason)
        if self._inline is not None:
            self._cancels_sent += 1
            self._inline.cancel()
        elif self._is_async and self._inner is not None:
            self._inner.cancel()

    def lose(self) -> None:
        self.lost = True
        self.cancel(LEASE_LOST)

    def interrupt(self) -> None:
        self.interrupted = True
        self.cancel(SHUTTING_DOWN)

    def ended(self) -> asyncio.Future[None]:
        """A future done once the worker is through with this execution (`mark_ended`)."""
        if self._ended_future is None:
            self._ended_future = asyncio.get_running_loop().create_future()
            if self._ended:
                self._ended_future.set_result(None)
        return self._ended_future

    def mark_ended(self) -> None:
        self._ended = True
        if self._ended_future is not None and not self._ended_future.done():
            self._ended_future.set_result(None)

    @property
    def finished_running(self) -> bool:
        return self._inner is None or self._inner.done()

    async def run(self) -> bool:
        """Run the job and record its outcome. False if the execution ends later instead,
        once its outcome is written (the worker's `execution_ended` says when): its runner
        may go on to another job meanwhile, the slot still held."""
        definition = self.worker.app.registry.get(self.job.name)
        outcome = await self._execute(definition)
        if outcome is not None and not self.lost:
            if self._hand_over(definition, outcome):
                return False
            await self._record(definition, outcome)
        if not self.finished_running and not self.interrupted and self._inner is not None:
            self.worker.slot_stuck(self)
            try:
                await asyncio.wait({self._inner})
            finally:
                self.worker.slot_freed(self)
        return True

    def _hand_over(self, definition: JobDefinition | None, outcome: Outcome) -> bool:
        """Leave the outcome to the writer, which ends the execution once it is written, if
        nothing is left to await: no progress to flush first, no code still running (past
        its timeout) and no finish hooks to call."""
        worker = self.worker
        if worker.flusher.pending(self.job.id) or not self.finished_running:
            return False
        if worker.app.finish_hooks(definition, None):
            return False
        self.recording = True
        worker.slot_released(self)
        worker.outcomes.write(outcome, functools.partial(self._written, outcome))
        return True

    def _written(self, outcome: Outcome, held: bool | None) -> None:
        self._report(outcome, held)
        self.worker.execution_ended(self)

    async def _record(self, definition: JobDefinition | None, outcome: Outcome) -> None:
        try:
            await self.worker.flusher.flush(self.job.id)
        except Exception as exc:
            log.warning("could not write the last progress of job %s: %s", self.job.id, exc)
        self.recording = True
        if self.finished_running:
            self.worker.slot_released(self)
        written: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self.worker.outcomes.write(outcome, functools.partial(_settle, written))
        held = await written
        self._report(outcome, held)
        if held:
            await self.worker.after_finish(definition, outcome)

    def _report(self, outcome: Outcome, held: bool | None) -> None:
        if held:
            log_outcome(self.job, outcome, self.ctx.cancel_reason == CANCEL_REQUESTED)
        elif held is None:
            log.warning(
                "job %s attempt %d: worker stopped before its outcome was known saved",
                *self._fence(),
            )
        else:
            log.warning("job %s attempt %d: lease lost, outcome discarded", *self._fence())

    def _fence(self) -> tuple[str, int]:
        return self.lease.job_id, self.lease.attempt

    async def _execute(self, definition: JobDefinition | None) -> Outcome | None:
        try:
            if definition is None:
                raise UnknownJobError(self.job.name)
            scope = self.worker.job_scope(self.ctx)
            if scope is None:
                value = await self._call(definition)
            else:
                async with scope:
                    value = await self._call(definition)
            crash_point("after_return")
            result = definition.dump_result(value)
        except Interrupted:
            return await self._interrupted_outcome()
        except Exception as exc:
            if self.interrupted and not self.timed_out:
                return await self._interrupted_outcome()
            return self._error_outcome(definition, exc)
        if self.interrupted:
            # It returned because shutdown asked it to stop: not a completion, run it again.
            return await self._interrupted_outcome()
        return Outcome(self.lease, "completed", result=result)

    async def _call(self, definition: JobDefinition) -> Any:
        kwargs = (
            await dependent_arguments(self.job.id, definition, self.worker.backend, self.ctx)
            if self.job.dependent
            else definition.load_args(self.job.args)
        )
        crash_point("job_started")
        args = (self.ctx,) if definition.context_param else ()
        self._is_async = definition.is_async
        timeout = definition.options.timeout
        if definition.is_async and timeout is None:
            return await self._inline_call(definition.fn(*args, **kwargs))
        if definition.is_async:
            self._inner = asyncio.ensure_future(definition.fn(*args, **kwargs))
        else:
            call = functools.partial(contextvars.copy_context().run, definition.fn, *args, **kwargs)
            loop = asyncio.get_running_loop()
            self._inner = loop.run_in_executor(self.worker.executor, call)
        if timeout is None:
            return await self._until_done(self._inner)
        done, _ = await asyncio.wait({self._inner}, timeout=timeout)
        if not done:
            self.timed_out = True
            self.cancel(f"timed out after {timeout:g} s")
            raise JobTimeout(f"job {definition.name!r} exceeded its timeout of {timeout:g} s")
        if self._inner.cancelled():
            raise Interrupted
        return self._inner.result()

    async def _inline_call(self, call: Coroutine[Any, Any, Any]) -> Any:
        """An async job without a timeout, run in this task: no task of its own to create and
        schedule. A cancel cancels this task while, and only while, the job's code runs; it
        is then Interrupted. A cancel from elsewhere (the loop going away) passes on."""
        task = self.task or asyncio.current_task()
        assert task is not None
        self._inline = task
        try:
            return await call
        except asyncio.CancelledError:
            if self._withdraw_cancels(task) == 0:
                raise Interrupted from None
            raise
        finally:
            self._inline = None
            if self._cancels_sent:
                self._withdraw_cancels(task)

    def _withdraw_cancels(self, task: asyncio.Task[Any]) -> int:
        """Take back the cancel requests this execution sent; the count of any others."""
        for _ in range(self._cancels_sent):
            task.uncancel()
        self._cancels_sent = 0
        return task.cancelling()

    async def _until_done(self, inner: asyncio.Future[Any]) -> Any:
        """The job's value, raising what it raised, or Interrupted if it was cancelled.

        Awaiting the future itself is much cheaper than asyncio.wait; only if this task is
        itself being cancelled (the loop is going away) does the cancellation pass on.
        """
        try:
            return await inner
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if inner.cancelled() and (task is None or not task.cancelling()):
                raise Interrupted from None
            raise

    async def _interrupted_outcome(self) -> Outcome | None:
        if self.lost:
            return None
        if self.interrupted:
            await self.worker.requeue(self.lease)
            return None
        reason = self.ctx.cancel_reason or CANCEL_REQUESTED
        error = JobError(type="Cancelled", message=reason, attempt=self.lease.attempt)
        return Outcome(self.lease, "cancelled", error=error)

    def _error_outcome(self, definition: JobDefinition | None, exc: Exception) -> Outcome:
        """A cancel request wins; a snooze spends no attempt; other errors meet the job's
        retry rules, then its attempts and backoff."""
        cancelled = self.ctx.cancel_reason == CANCEL_REQUESTED
        if isinstance(exc, Snooze) and not cancelled:
            return Outcome(self.lease, "snooze", retry_delay_s=exc.seconds)
        ruling = retry_ruling(exc, definition.options if definition else None)
        error = JobError(
            type=type(exc).__name__,
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
            attempt=self.lease.attempt,
            rule=ruling.rule,
        )
        if cancelled:
            return Outcome(self.lease, "cancelled", error=error)
        if ruling.retryable and self.lease.attempt < self.job.max_attempts:
            delay = ruling.after_s
            if delay is None:
                delay = definition.retry_delay(self.lease.attempt) if definition else 0.0
            return Outcome(self.lease, "retry", error=error, retry_delay_s=delay)
        return Outcome(self.lease, "failed", error=error)


def _settle(future: asyncio.Future[bool | None], held: bool | None) -> None:
    if not future.done():
        future.set_result(held)


def log_outcome(job: ClaimedJob, outcome: Outcome, cancel_requested: bool = False) -> None:
    """One line for an attempt that did not complete, with the job and the cause, so that an
    operator sees failures in the worker's log (completions only at debug level). A cancel
    request wins over how the attempt ended, as the backend records it."""
    kind = "cancelled" if cancel_requested else outcome.kind
    if kind == "completed" and not log.isEnabledFor(logging.DEBUG):
        return
    what = f"job {job.name} {job.id} attempt {outcome.lease.attempt} of {job.max_attempts}"
    error = outcome.error
    cause = "" if error is None else f"{error.type}: {error.message}"
    rule = "" if error is None or error.rule is None else f" ({error.rule})"
    fields = {
        "job_id": job.id,
        "job_name": job.name,
        "attempt": outcome.lease.attempt,
        "max_attempts": job.max_attempts,
        "worker_id": outcome.lease.worker_id,
        "outcome": kind,
    }
    if error is not None:
        fields |= {"error_type": error.type, "error_message": error.message, "rule": error.rule}
    if kind == "retry":
        fields["retry_delay_s"] = delay = outcome.retry_delay_s
        log.warning("%s failed, retrying in %g s%s: %s", what, delay, rule, cause, extra=fields)
    elif kind == "failed":
        spent = outcome.lease.attempt >= job.max_attempts
        why = "no attempts left" if spent else "not retried"
        log.error("%s failed, %s%s: %s", what, why, rule, cause, extra=fields)
    elif kind == "snooze":
        fields["snooze_s"] = outcome.retry_delay_s
        log.info("%s snoozed for %g s", what, outcome.retry_delay_s, extra=fields)
    elif kind == "cancelled":
        log.info("%s cancelled by request", what, extra=fields)
    else:
        log.debug("%s completed", what, extra=fields)
