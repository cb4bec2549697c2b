"""underway.contrib.opentelemetry: one trace from a caller's span through the stored job into
its attempt and the job's own spans; attributes, errors, metrics; nothing when not asked."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from underway import App, group
from underway.contrib.opentelemetry import instrument, uninstrument
from underway.testing import Clock, drain


class Telemetry:
    """An SDK tracer and meter provider that keep what they record in memory."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        self.tracer = self.tracer_provider.get_tracer("test")

    def instrument(self, app: App) -> None:
        instrument(app, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def span(self, name: str) -> ReadableSpan:
        [found] = [s for s in self.spans.get_finished_spans() if s.name == name]
        return found

    def histogram(self, name: str) -> list[Any]:
        """The data points of a histogram, each with its attributes, count and sum."""
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    found = Telemetry()
    yield found
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()


@pytest.fixture
def otel_app(backend_url: str) -> Iterator[App]:
    app = App(backend_url)
    yield app
    app.close()


def declare(app: App, tracer: trace.Tracer | None = None) -> Any:
    tracer = tracer or trace.get_tracer("test")

    @app.job(queue="mail")
    def send(to: str) -> str:
        with tracer.start_as_current_span("render mail"):
            return f"sent to {to}"

    @app.job
    async def explode() -> None:
        raise ValueError("boom")

    return send, explode


def test_a_trace_runs_from_the_callers_span_into_the_attempt_and_the_jobs_own_spans(
    otel_app: App, telemetry: Telemetry
) -> None:
    send, _ = declare(otel_app, telemetry.tracer)
    telemetry.instrument(otel_app)
    with telemetry.tracer.start_as_current_span("web request") as request:
        handle = send.enqueue(to="ada@example.com")
    drain(otel_app)
    assert handle.result() == "sent to ada@example.com"
    enqueue = telemetry.span("underway enqueue send")
    run = telemetry.span("underway run send")
    own = telemetry.span("render mail")
    trace_id = request.get_span_context().trace_id
    assert {enqueue.context.trace_id, run.context.trace_id, own.context.trace_id} == {trace_id}
    assert enqueue.parent is not None
    assert enqueue.parent.span_id == request.get_span_context().span_id
    assert run.parent is not None
    assert run.parent.span_id == enqueue.context.span_id
    assert own.parent is not None
    assert own.parent.span_id == run.context.span_id
    assert enqueue.kind is SpanKind.PRODUCER
    assert run.kind is SpanKind.CONSUMER


def test_each_job_of_an_enqueue_many_has_its_own_span_under_the_callers(
    otel_app: App, telemetry: Telemetry
) -> None:
    send, _ = declare(otel_app, telemetry.tracer)
    telemetry.instrument(otel_app)
    with telemetry.tracer.start_as_current_span("web request") as request:
        handles = send.enqueue_many([{"to": "ada"}, {"to": "bob"}, {"to": "cy"}])
    drain(otel_app)
    assert [h.result() for h in handles] == ["sent to ada", "sent to bob", "sent to cy"]
    finished = telemetry.spans.get_finished_spans()
    enqueues = [s for s in finished if s.name == "underway enqueue send"]
    runs = {s.parent.span_id: s for s in finished if s.name == "underway run send" and s.parent}
    request_id = request.get_span_context().span_id
    assert len(enqueues) == 3
    assert all(s.parent is not None and s.parent.span_id == request_id for s in enqueues)
    assert {s.context.span_id for s in enqueues} == set(runs)


def test_a_workflows_jobs_each_have_an_enqueue_span_under_the_callers(
    otel_app: App, telemetry: Telemetry
) -> None:
    send, _ = declare(otel_app, telemetry.tracer)
    telemetry.instrument(otel_app)
    with telemetry.tracer.start_as_current_span("web request") as request:
        flow = otel_app.start(group(send.step("ada"), send.step("bob")))
    drain(otel_app)
    assert flow.status().state == "completed"
    finished = telemetry.spans.get_finished_spans()
    enqueues = [s for s in finished if s.name == "underway enqueue send"]
    runs = [s for s in finished if s.name == "underway run send"]
    request_id = request.get_span_context().span_id
    assert len(enqueues) == len(runs) == 2
    assert all(s.parent is not None and s.parent.span_id == request_id for s in enqueues)
    assert {s.parent.span_id for s in runs if s.parent} == {s.context.span_id for s in enqueues}


def test_a_cron_run_is_traced_from_its_enqueue_into_its_attempt(telemetry: Telemetry) -> None:
    clock = Clock()
    app = App("memory://", clock=clock)

    @app.job(cron="*/5 * * * *")
    def tick() -> None:
        pass

    telemetry.instrument(app)
    try:
        drain(app)
        clock.advance(timedelta(minutes=5))
        drain(app)
    finally:
        app.close()
    enqueue, run = telemetry.span("underway enqueue tick"), telemetry.span("underway run tick")
    assert run.parent is not None
    assert run.parent.span_id == enqueue.context.span_id


def test_the_spans_name_the_job_its_id_queue_attempt_and_outcome(
    otel_app: App, telemetry: Telemetry
) -> None:
    send, _ = declare(otel_app)
    telemetry.instrument(otel_app)
    handle = send.enqueue(to="ada@example.com")
    drain(otel_app)
    enqueue = telemetry.span("underway enqueue send").attributes or {}
    run = telemetry.span("underway run send")
    attributes = run.attributes or {}
    for recorded in (enqueue, attributes):
        assert recorded["messaging.system"] == "underway"
        assert recorded["underway.job.name"] == "send"
        assert recorded["underway.job.id"] == handle.id
        assert recorded["messaging.destination.name"] == "mail"
    assert attributes["underway.job.attempt"] == 1
    assert attributes["underway.job.outcome"] == "completed"
    assert run.status.status_code is StatusCode.UNSET


def test_a_failing_attempt_is_an_error_span_with_its_error_type(
    otel_app: App, telemetry: Telemetry
) -> None:
    _, explode = declare(otel_app)
    telemetry.instrument(otel_app)
    explode.enqueue()
    drain(otel_app)
    run = telemetry.span("underway run explode")
    assert run.status.status_code is StatusCode.ERROR
    assert (run.attributes or {})["error.type"] == "ValueError"
    assert (run.attributes or {})["underway.job.outcome"] == "failed"
    assert [event.name for event in run.events] == ["exception"]


def test_attempt_duration_and_queue_wait_are_recorded_per_job_name(
    otel_app: App, telemetry: Telemetry
) -> None:
    send, explode = declare(otel_app)
    telemetry.instrument(otel_app)
    send.enqueue(to="a")
    send.enqueue(to="b")
    explode.enqueue()
    drain(otel_app)
    durations = {
        (p.attributes["underway.job.name"], p.attributes["underway.job.outcome"]): p.count
        for p in telemetry.histogram("underway.job.attempt.duration")
    }
    assert durations == {("send", "completed"): 2, ("explode", "failed"): 1}
    waits = {
        p.attributes["underway.job.name"]: p.count
        for p in telemetry.histogram("underway.job.queue.wait")
    }
    assert waits == {"send": 2, "explode": 1}
    assert all(p.min >= 0 for p in telemetry.histogram("underway.job.queue.wait"))


def test_a_job_enqueued_without_a_trace_runs_in_a_trace_of_its_own(
    otel_app: App, telemetry: Telemetry
) -> None:
    send, _ = declare(otel_app)
    send.enqueue(to="a")  # before instrument(): stored without a trace context
    telemetry.instrument(otel_app)
    drain(otel_app)
    run = telemetry.span("underway run send")
    assert run.parent is None
    assert (run.attributes or {})["underway.job.outcome"] == "completed"


def test_nothing_is_recorded_once_uninstrumented(otel_app: App, telemetry: Telemetry) -> None:
    send, _ = declare(otel_app)
    telemetry.instrument(otel_app)
    uninstrument(otel_app)
    handle = send.enqueue(to="a")
    drain(otel_app)
    assert handle.result() == "sent to a"
    assert not [s for s in telemetry.spans.get_finished_spans() if s.name.startswith("underway")]
    assert telemetry.histogram("underway.job.attempt.duration") == []
    assert otel_app.attempt_scopes == []
    assert otel_app.enqueue_scopes == []


def test_instrumenting_twice_records_each_span_once(otel_app: App, telemetry: Telemetry) -> None:
    send, _ = declare(otel_app)
    telemetry.instrument(otel_app)
    telemetry.instrument(otel_app)
    send.enqueue(to="a")
    drain(otel_app)
    names = [s.name for s in telemetry.spans.get_finished_spans()]
    assert names.count("underway enqueue send") == 1
    assert names.count("underway run send") == 1


def test_the_stored_trace_context_is_w3c_traceparent(otel_app: App, telemetry: Telemetry) -> None:
    send, _ = declare(otel_app)
    telemetry.instrument(otel_app)
    seen: list[Any] = []
    otel_app.enqueue_scopes.append(_recording(seen))
    with telemetry.tracer.start_as_current_span("web request") as request:
        send.enqueue(to="a")
    [stored] = seen
    traceparent = json.loads(stored)["traceparent"]
    assert traceparent.split("-")[1] == format(request.get_span_context().trace_id, "032x")


def _recording(seen: list[Any]) -> Any:
    @contextlib.contextmanager
    def scope(new: Any) -> Iterator[Any]:
        seen.append(new.trace_context)
        yield new

    return scope


def test_importing_underway_imports_nothing_of_opentelemetry() -> None:
    code = (
        "import sys, underway, underway.testing\n"
        "from underway import App\n"
        "app = App('memory://otel-free')\n"
        "@app.job\n"
        "def ping() -> str:\n"
        "    return 'pong'\n"
        "ping.enqueue()\n"
        "underway.testing.drain(app)\n"
        "app.close()\n"
        "found = [m for m in sys.modules if m.split('.')[0] == 'opentelemetry']\n"
        "print(','.join(found))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == ""
