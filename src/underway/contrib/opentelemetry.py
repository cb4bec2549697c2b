"""OpenTelemetry for underway: a PRODUCER span for each enqueue and a CONSUMER span for each
attempt, joined into one trace by the trace context stored with the job; histograms of
attempt duration and queue wait per job name. Nothing happens until `instrument(app)`.

Needs the `opentelemetry` extra (`pip install underway[opentelemetry]`): the API only; the
SDK, exporters and propagators are the application's to configure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..app.registry import JobRegistry
from ..errors import Snooze
from ..models import ClaimedJob, NewJob
from ..worker.execution import Interrupted

__all__ = ["Instrumentation", "instrument", "uninstrument"]

SCOPE = "underway.contrib.opentelemetry"
SYSTEM = "underway"
JOB_NAME = "underway.job.name"
OUTCOME = "underway.job.outcome"


class Instrumentation:
    """The spans and metrics of one app's enqueues and attempts."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(SCOPE, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, meter_provider=meter_provider)
        self.attempt_duration = meter.create_histogram(
            "underway.job.attempt.duration",
            unit="s",
            description="How long one attempt of a job ran, by job name and outcome.",
        )
        self.queue_wait = meter.create_histogram(
            "underway.job.queue.wait",
            unit="s",
            description="From when a job became due to when a worker claimed it, by job name.",
        )

    @contextlib.contextmanager
    def enqueue(self, new: NewJob) -> Iterator[NewJob]:
        """A PRODUCER span around storing `new`; the row to store carries its context."""
        attributes = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "send",
            "messaging.destination.name": new.queue,
            "messaging.message.id": new.id,
            JOB_NAME: new.name,
            "underway.job.id": new.id,
        }
        name = f"underway enqueue {new.name}"
        with self.tracer.start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            yield replace(new, trace_context=json.dumps(carrier)) if carrier else new

    @contextlib.asynccontextmanager
    async def attempt(self, job: ClaimedJob) -> AsyncIterator[None]:
        """A CONSUMER span around one attempt, a child of the enqueue's context if stored."""
        started = time.time()
        if job.due_at is not None:
            wait = max(0.0, started - job.due_at)
            self.queue_wait.record(wait, {JOB_NAME: job.name, "underway.job.queue": job.queue})
        parent = None
        if job.trace_context is not None:
            parent = propagate.extract(json.loads(job.trace_context))
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "process",
            "messaging.destination.name": job.queue,
            "messaging.message.id": job.id,
            JOB_NAME: job.name,
            "underway.job.id": job.id,
            "underway.job.attempt": job.attempt,
            "underway.job.queue": job.queue,
        }
        with self.tracer.start_as_current_span(
            f"underway run {job.name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            outcome = "completed"
            try:
                yield
            except BaseException as exc:
                outcome = outcome_of(exc)
                if outcome == "failed":
                    span.record_exception(exc)
                    span.set_attribute("error.type", type(exc).__name__)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                raise
            finally:
                span.set_attribute(OUTCOME, outcome)
                elapsed = time.time() - started
                self.attempt_duration.record(elapsed, {JOB_NAME: job.name, OUTCOME: outcome})


def outcome_of(exc: BaseException) -> str:
    """How an attempt that raised `exc` ended, as far as its own code tells."""
    if isinstance(exc, Snooze):
        return "snoozed"
    if isinstance(exc, Interrupted | asyncio.CancelledError):
        return "interrupted"
    return "failed"


def instrument(
    app: JobRegistry,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> Instrumentation:
    """Trace and measure the app's enqueues and attempts (the global providers unless
    given). Call it where the app is defined, so that its workers are instrumented too."""
    uninstrument(app)
    instrumentation = Instrumentation(tracer_provider, meter_provider)
    app.enqueue_scopes.append(instrumentation.enqueue)
    app.attempt_scopes.append(instrumentation.attempt)
    return instrumentation


def uninstrument(app: JobRegistry) -> None:
    """Stop tracing and measuring the app: its enqueues and attempts run as if never
    instrumented (jobs already stored keep their trace context, unused)."""
    app.enqueue_scopes[:] = [s for s in app.enqueue_scopes if not _ours(s)]
    app.attempt_scopes[:] = [s for s in app.attempt_scopes if not _ours(s)]


def _ours(scope: Any) -> bool:
    return isinstance(getattr(scope, "__self__", None), Instrumentation)
