"""Recurring jobs: definitions, ticks under an injected clock (DST included), overlap, catch-up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from underway import App, ConfigurationError, JobState
from underway.backends.base import Backend
from underway.recurring import CronSchedule
from underway.testing import Clock
from underway.worker.scheduler import Scheduler

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 10, 24, 12, 0, tzinfo=UTC))


@pytest.fixture
def clocked_app(backend_url: str, clock: Clock) -> Iterator[App]:
    """An app on each backend whose scheduler and definitions follow the test clock."""
    app = App(backend_url, clock=clock)
    yield app
    app.close()


def run_scheduler(app: App, *, grace: float = 30.0) -> Scheduler:
    async def make() -> Scheduler:
        return Scheduler(app, await app.backend(), interval_s=1, misfire_grace_s=grace)

    return app.runtime.call(make())


def tick(app: App, scheduler: Scheduler) -> None:
    app.runtime.call(scheduler.tick())


def test_hourly_job_fires_once_per_hour_across_the_autumn_dst_change(
    clocked_app: App, clock: Clock
) -> None:
    @clocked_app.job(cron="30 * * * *", timezone="Europe/Berlin")
    def hourly() -> None: ...

    @clocked_app.job(cron="30 2 * * *", timezone="Europe/Berlin")
    def nightly() -> None: ...

    scheduler = run_scheduler(clocked_app)
    for _ in range(48 * 6):  # two days in 10-minute steps, through 2026-10-25 03:00 CEST → CET
        tick(clocked_app, scheduler)
        clock.advance(timedelta(minutes=10))
    hourly_runs = local_fire_times(clocked_app, "hourly")
    assert len(hourly_runs) == 48, "one run per hour of real time"
    assert hourly_runs.count("10-25 02:30") == 2, (
        "the repeated wall-clock hour fires in both offsets"
    )
    assert local_fire_times(clocked_app, "nightly") == ["10-25 02:30", "10-26 02:30"], (
        "a fixed time of day fires once on the day the clocks go back"
    )


def local_fire_times(app: App, name: str) -> list[str]:
    jobs = app.list(name=name, limit=1000)
    return sorted(j.fire_at.astimezone(BERLIN).strftime("%m-%d %H:%M") for j in jobs if j.fire_at)


def test_spring_forward_moves_a_skipped_wall_time_to_the_next_hour() -> None:
    schedule = CronSchedule("30 2 * * *", "Europe/Berlin")
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    first = schedule.next_after(before).astimezone(BERLIN)
    assert (first.day, first.hour, first.minute) == (29, 3, 0)


def test_aliases_and_words() -> None:
    assert CronSchedule("@monthly").describe() == "At 00:00 on the first day of every month"
    assert CronSchedule("@hourly").expression == "0 * * * *"


@pytest.mark.parametrize(
    ("cron", "timezone", "message"),
    [
        ("61 * * * *", "UTC", "invalid cron expression '61 \\* \\* \\* \\*'"),
        ("* * *", "UTC", "invalid cron expression"),
        ("@fortnightly", "UTC", "invalid cron expression"),
        ("0 0 * * *", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
    ],
)
def test_bad_cron_or_timezone_fails_at_definition_and_stores_nothing(
    clocked_app: App, cron: str, timezone: str, message: str
) -> None:
    @clocked_app.job
    def report() -> None: ...

    with pytest.raises(ConfigurationError, match=message):
        clocked_app.add_recurring("r", cron, report, timezone=timezone)
    with pytest.raises(ConfigurationError, match=message):

        @clocked_app.job(cron=cron, timezone=timezone)
        def declared() -> None: ...

    assert clocked_app.list_recurring() == []


def test_cron_options_without_cron_and_bad_policies_are_refused(clocked_app: App) -> None:
    with pytest.raises(ConfigurationError, match="timezone is only valid together with cron="):

        @clocked_app.job(timezone="UTC")
        def a() -> None: ...

    @clocked_app.job
    def b() -> None: ...

    with pytest.raises(ConfigurationError, match="overlap must be one of"):
        clocked_app.add_recurring("b", "@daily", b, overlap="sometimes")  # type: ignore[arg-type]


def test_dynamic_definitions_list_toggle_trigger_and_remove(clocked_app: App, clock: Clock) -> None:
    @clocked_app.job
    def export(tenant: int) -> None: ...

    rid = clocked_app.add_recurring("nightly-export", "0 3 * * *", export, {"tenant": 7})
    [rec] = clocked_app.list_recurring()
    assert (rec.id, rec.enabled, rec.args) == (rid, True, {"tenant": 7})
    assert rec.next_fire_at == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    with pytest.raises(ConfigurationError, match="already exists"):
        clocked_app.add_recurring("nightly-export", "0 3 * * *", export, {"tenant": 7})

    assert not clocked_app.toggle_recurring(rid).enabled
    scheduler = run_scheduler(clocked_app)
    clock.advance(timedelta(days=2))
    tick(clocked_app, scheduler)
    assert clocked_app.list(name="export") == [], "a disabled definition fires nothing"
    assert clocked_app.toggle_recurring(rid).enabled

    handle = clocked_app.trigger_recurring(rid)
    assert handle.job.state is JobState.PENDING
    assert clocked_app.get_recurring(rid).last_job_id == handle.id
    clocked_app.remove_recurring(rid)
    assert clocked_app.list_recurring() == []


def test_overlap_skip_records_a_skipped_tick_with_the_reason(
    clocked_app: App, clock: Clock
) -> None:
    @clocked_app.job
    def slow() -> None: ...

    clocked_app.add_recurring("slow", "0 * * * *", slow)
    scheduler = run_scheduler(clocked_app)
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        tick(clocked_app, scheduler)
    jobs = sorted(clocked_app.list(name="slow"), key=lambda j: j.created_at)
    assert [j.state for j in jobs] == [JobState.PENDING, JobState.SKIPPED, JobState.SKIPPED]
    assert jobs[1].skip_reason == f"previous run {jobs[0].id} is still pending"
    assert clocked_app.list_recurring()[0].last_job_state is JobState.SKIPPED


@pytest.mark.parametrize(("overlap", "lane"), [("queue", True), ("allow", False)])
def test_overlap_queue_and_allow_store_every_tick(
    clocked_app: App, clock: Clock, overlap: str, lane: bool
) -> None:
    @clocked_app.job
    def slow() -> None: ...

    clocked_app.add_recurring("slow", "0 * * * *", slow, overlap=overlap)  # type: ignore[arg-type]
    scheduler = run_scheduler(clocked_app)
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        tick(clocked_app, scheduler)
    jobs = clocked_app.list(name="slow")
    assert [j.state for j in jobs] == [JobState.PENDING] * 3
    assert all((j.lane is not None) is lane for j in jobs)


@pytest.mark.parametrize(("catch_up", "expected"), [("one", 1), ("none", 0)])
def test_missed_ticks_give_one_catch_up_run_or_none(
    clocked_app: App, clock: Clock, catch_up: str, expected: int
) -> None:
    @clocked_app.job
    def every_minute() -> None: ...

    clocked_app.add_recurring("m", "* * * * *", every_minute, catch_up=catch_up)  # type: ignore[arg-type]
    clock.advance(timedelta(hours=5, seconds=45))  # no scheduler ran; the last tick is 45 s old
    scheduler = run_scheduler(clocked_app, grace=30)
    tick(clocked_app, scheduler)
    assert len(clocked_app.list(name="every_minute")) == expected
    clock.advance(timedelta(seconds=15))  # exactly on the next tick
    tick(clocked_app, scheduler)
    assert len(clocked_app.list(name="every_minute")) == expected + 1, "then the schedule resumes"


def test_declared_definitions_sync_without_duplicates_and_removal_disables(
    backend_url: str, clock: Clock
) -> None:
    url = backend_url

    def deploy(with_report: bool) -> App:
        app = App(url, clock=clock)

        @app.job(cron="0 0 1 * *", timezone="Europe/Berlin", cron_args={"kind": "monthly"})
        def report(kind: str) -> None: ...

        if with_report:

            @app.job(cron="@daily")
            def cleanup() -> None: ...

        tick(app, run_scheduler(app))
        return app

    first = deploy(with_report=True)
    second = deploy(with_report=True)
    assert sorted((r.name, r.enabled) for r in second.list_recurring()) == [
        ("cleanup", True),
        ("report", True),
    ]
    third = deploy(with_report=False)
    assert sorted((r.name, r.enabled) for r in third.list_recurring()) == [
        ("cleanup", False),
        ("report", True),
    ]
    assert third.list_recurring()[1].args == {"kind": "monthly"}
    for app in (first, second, third):
        app.close()


async def test_many_schedulers_fire_each_tick_once(clocked_app: App, clock: Clock) -> None:
    @clocked_app.job
    def tick_job() -> None: ...

    clocked_app.add_recurring("t", "* * * * *", tick_job, overlap="allow")

    async def race() -> None:
        backend: Backend = await clocked_app.backend()
        schedulers = [Scheduler(clocked_app, backend, 1, 30) for _ in range(5)]
        for _ in range(10):
            clock.advance(timedelta(minutes=1))
            await asyncio.gather(*(s.tick() for s in schedulers))

    await clocked_app.runtime.call_async(race())
    runs = clocked_app.list(name="tick_job", limit=100)
    assert len(runs) == 10
