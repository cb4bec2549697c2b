"""Argument validation, fingerprints and decoration-time checks of job definitions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import BaseModel, Field

from underway import App, ConfigurationError, JobContext, ValidationError, fingerprint_of
from underway.job_options import Backoff


@pytest.fixture
def app() -> App:
    return App("sqlite:///unused.db")


def test_context_parameter_is_detected_and_excluded_from_arguments(app: App) -> None:
    @app.job
    async def export(ctx: JobContext, month: str, tenant: int = 1) -> dict[str, Any]:
        return {}

    definition = app.definition(export)
    assert definition.context_param == "ctx"
    assert [p.name for p in definition.parameters] == ["month", "tenant"]
    assert definition.validate({"month": "2026-10"}) == {"month": "2026-10", "tenant": 1}


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ({"month": "2026-10", "tenant": "seven"}, "tenant", "valid integer"),
        ({"tenant": 7}, "month", "Field required"),
        ({"month": "2026-10", "tenant": 7, "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_arguments_name_the_field(
    app: App, args: dict[str, Any], field: str, message: str
) -> None:
    @app.job
    def export(month: str, tenant: int) -> None: ...

    with pytest.raises(ValidationError) as caught:
        app.definition(export).validate(args)
    assert f"{field}:" in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.errors[0]["loc"] == (field,)


def test_constraints_in_annotated_parameters_are_enforced(app: App) -> None:
    @app.job
    def resize(
        width: Annotated[int, Field(gt=0, le=4096)], name: Annotated[str, Field(min_length=1)] = "x"
    ) -> None: ...

    definition = app.definition(resize)
    assert definition.validate({"width": 640}) == {"width": 640, "name": "x"}
    for args, field in [
        ({"width": 0}, "width"),
        ({"width": 5000}, "width"),
        ({"width": 1, "name": ""}, "name"),
    ]:
        with pytest.raises(ValidationError) as caught:
            definition.validate(args)
        assert caught.value.errors[0]["loc"] == (field,)


def test_stored_arguments_load_back_typed_and_checked(app: App) -> None:
    @app.job
    def deliver(
        at: datetime, summary: Summary, tags: list[str], copies: Annotated[int, Field(ge=1)] = 1
    ) -> None: ...

    definition = app.definition(deliver)
    stored = definition.validate(
        {"at": "2026-12-01T10:00:00+00:00", "summary": {"total": 3}, "tags": ["a"]}
    )
    assert definition.load_args(stored) == {
        "at": datetime(2026, 12, 1, 10, tzinfo=UTC),
        "summary": Summary(total=3),
        "tags": ["a"],
        "copies": 1,
    }
    # Rows stored before a parameter with a default was added load without it.
    del stored["copies"]
    assert "copies" not in definition.load_args(stored)
    for changed in [{"copies": 0}, {"colour": "red"}, {"at": "soon"}]:
        with pytest.raises(pydantic.ValidationError):
            definition.load_args({**stored, **changed})
    with pytest.raises(pydantic.ValidationError, match="tags"):
        definition.load_args({"at": stored["at"], "summary": stored["summary"]})


def test_non_json_value_is_rejected(app: App) -> None:
    @app.job
    def store(payload: Any) -> None: ...

    with pytest.raises(ValidationError, match=r"payload|serialis"):
        app.definition(store).validate({"payload": object()})


def test_positional_arguments_bind_to_parameter_names(app: App) -> None:
    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    definition = app.definition(add)
    assert definition.bind((1,), {"b": 2}) == {"a": 1, "b": 2}
    with pytest.raises(ValidationError, match="both by position and by name"):
        definition.bind((1,), {"a": 2})


def test_fingerprint_ignores_key_order_int_float_and_explicit_defaults(app: App) -> None:
    @app.job(unique="join")
    def charge(amount: float, currency: str = "EUR") -> None: ...

    d = app.definition(charge)
    a = d.fingerprint(d.validate({"amount": 1, "currency": "EUR"}))
    b = d.fingerprint(d.validate({"currency": "EUR", "amount": 1.0}))
    c = d.fingerprint(d.validate({"amount": 1}))
    assert a == b == c
    assert a != d.fingerprint(d.validate({"amount": 2}))
    assert fingerprint_of("x", {"n": 1}) == fingerprint_of("x", {"n": 1.0})
    assert fingerprint_of("x", {"n": 1}) != fingerprint_of("y", {"n": 1})


def test_unique_by_limits_the_fingerprint_to_named_arguments(app: App) -> None:
    @app.job(unique="join", unique_by=("tenant",))
    def sync(tenant: int, reason: str) -> None: ...

    d = app.definition(sync)
    assert d.fingerprint({"tenant": 1, "reason": "a"}) == d.fingerprint(
        {"tenant": 1, "reason": "b"}
    )
    assert d.fingerprint({"tenant": 1, "reason": "a"}) != d.fingerprint(
        {"tenant": 2, "reason": "a"}
    )


@dataclasses.dataclass
class Report:
    url: str
    rows: int


class Summary(BaseModel):
    total: int


def test_results_round_trip_through_json_typed_by_the_annotation(app: App) -> None:
    @app.job
    def make_report() -> Report:
        return Report("u", 3)

    @app.job
    def summarise() -> Summary:
        return Summary(total=4)

    report = app.definition(make_report)
    assert report.dump_result(Report("u", 3)) == {"url": "u", "rows": 3}
    assert report.load_result({"url": "u", "rows": 3}) == Report("u", 3)
    assert app.definition(summarise).load_result({"total": 4}) == Summary(total=4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"unique": "join", "unique_by": ("nope",)}, "unknown argument 'nope'"),
        ({"concurrency": 0}, "concurrency must be at least 1"),
        ({"concurrency": 2, "concurrency_key": "nope"}, "unknown argument 'nope'"),
        ({"unique": "sometimes"}, "unique must be one of"),
        ({"unique_by": ("tenant",)}, "need unique="),
        ({"unique": "queue", "unique_for": 10}, "unique_for applies"),
        ({"retries": -1}, "retries must not be negative"),
        ({"timeout": -5}, "timeout must not be negative"),
        ({"max_losses": 0}, "max_losses must be at least 1"),
    ],
)
def test_bad_options_fail_at_decoration_time(
    app: App, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):

        @app.job(**options)
        def sync(tenant: int) -> None: ...


def test_parameters_named_like_enqueue_options_are_the_jobs_own(app: App) -> None:
    @app.job
    def route(
        queue: str,
        delay: float,
        priority: int,
        run_at: str,
        connection: str,
        idempotency_key: str,
        on_duplicate: str,
    ) -> str:
        return queue

    names = ["queue", "delay", "priority", "run_at", "connection", "idempotency_key"]
    assert list(app.definition(route).args_model.model_fields) == [*names, "on_duplicate"]
    assert route("q", 1.0, 2, "r", "c", "k", "d") == "q"


def test_two_jobs_with_one_name_are_refused(app: App) -> None:
    @app.job(name="same")
    def one() -> None: ...

    with pytest.raises(ConfigurationError, match="already registered"):

        @app.job(name="same")
        def two() -> None: ...


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    backoff = Backoff(base=1, factor=2, maximum=10, jitter=0.1)
    for attempt, expected in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        delay = backoff.delay(attempt)
        assert expected * 0.9 <= delay <= expected * 1.1


def test_durations_accept_timedelta(app: App) -> None:
    @app.job(timeout=timedelta(minutes=2), retention=timedelta(hours=1))
    def slow() -> None: ...

    options = app.definition(slow).options
    assert (options.timeout, options.retention) == (120.0, 3600.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10m", 600.0), ("90s", 90.0), ("1h30m", 5400.0), ("7d", 604800.0), ("250ms", 0.25)],
)
def test_durations_accept_text(app: App, text: str, expected: float) -> None:
    @app.job(timeout=text)
    def slow() -> None: ...

    assert app.definition(slow).options.timeout == expected


@pytest.mark.parametrize("text", ["ten minutes", "10 parsecs", "m10", "-5m", ""])
def test_unreadable_durations_say_how_to_write_them(app: App, text: str) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):

        @app.job(timeout=text)
        def slow() -> None: ...


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"queue": "reports", "priority": 3, "retries": 2, "retention": 60},
        {"unique": "join"},
        {"unique": "queue"},
        {"concurrency": 2, "concurrency_key": "tenant"},
    ],
)
def test_many_calls_build_the_rows_one_call_would(app: App, options: dict[str, Any]) -> None:
    @app.job(**options)
    async def export(month: str, tenant: int = 1) -> None: ...

    definition = app.definition(export)
    calls = [{"month": "2026-10"}, {"month": "2026-11", "tenant": 7}]
    many = definition.new_jobs(calls)
    one_by_one = [definition.new_job(call) for call in calls]
    assert len({job.id for job in many + one_by_one}) == 4
    assert [dataclasses.replace(job, id="") for job in many] == [
        dataclasses.replace(job, id="") for job in one_by_one
    ]
