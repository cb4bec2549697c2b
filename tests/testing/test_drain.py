"""underway.testing: drain, inline mode and the clock, on a real database file."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fast_settings
from underway import App, Backoff, ConfigurationError, JobFailed, JobState, UnknownJobError
from underway.testing import Clock, drain
from underway.worker.collector import YOUNG_THRESHOLD

START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
MINUTE = Backoff(base=60, factor=1, maximum=60, jitter=0)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}", clock=clock)
    yield app
    app.close()


def test_drain_runs_due_jobs_and_the_jobs_they_enqueue(app: App) -> None:
    @app.job
    def fan_out(n: int) -> int:
        for i in range(n):
            leaf.enqueue(i)
        return n

    @app.job
    def leaf(i: int) -> int:
        return i * 10

    fan_out.enqueue(3)
    ran = drain(app)
    assert [(job.name, job.state, job.result) for job in ran] == [
        ("fan_out", JobState.COMPLETED, 3),
        ("leaf", JobState.COMPLETED, 0),
        ("leaf", JobState.COMPLETED, 10),
        ("leaf", JobState.COMPLETED, 20),
    ]
    assert drain(app) == []


def test_drain_takes_only_the_queues_it_is_given(app: App) -> None:
    @app.job(queue="mail")
    def send() -> None: ...

    @app.job
    def other() -> None: ...

    mail, rest = send.enqueue(), other.enqueue()
    assert [job.id for job in drain(app, queues="mail")] == [mail.id]
    assert rest.state is JobState.PENDING


def test_drain_takes_only_the_jobs_it_is_given(app: App) -> None:
    @app.job
    def send() -> None: ...

    @app.job
    def other() -> None: ...

    sent, rest = send.enqueue(), other.enqueue()
    assert [job.id for job in drain(app, jobs=send)] == [sent.id]
    assert rest.state is JobState.PENDING
    assert [job.id for job in drain(app, jobs=["send", other])] == [rest.id]


def test_drain_refuses_a_job_the_app_does_not_know(app: App) -> None:
    with pytest.raises(UnknownJobError, match="nope"):
        drain(app, jobs="nope")


def test_drain_is_refused_while_a_worker_runs(app: App) -> None:
    app.start_worker(fast_settings())
    with pytest.raises(ConfigurationError, match="stop it first"):
        drain(app)


def test_delays_wait_for_the_clock(app: App, clock: Clock) -> None:
    @app.job
    def remind() -> str:
        return "sent"

    handle = remind.schedule(timedelta(minutes=5))
    assert drain(app) == []
    clock.advance(timedelta(minutes=4, seconds=59))
    assert drain(app) == []
    clock.advance(1)
    assert [job.result for job in drain(app)] == ["sent"]
    assert handle.result(timeout=1) == "sent"


def test_retry_backoff_follows_the_clock(app: App, clock: Clock) -> None:
    calls: list[datetime] = []

    @app.job(retries=2, backoff=MINUTE)
    def flaky() -> str:
        calls.append(clock.moment)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "up"

    handle = flaky.enqueue()
    assert [job.state for job in drain(app)] == [JobState.SCHEDULED]
    clock.advance(59)
    assert drain(app) == []
    clock.advance(1)
    drain(app)
    clock.advance(60)
    assert [job.state for job in drain(app)] == [JobState.COMPLETED]
    assert calls == [START, START + timedelta(minutes=1), START + timedelta(minutes=2)]
    assert handle.result(timeout=1) == "up"


def test_unique_for_windows_follow_the_clock(app: App, clock: Clock) -> None:
    @app.job(unique="join", unique_for=timedelta(minutes=10))
    def refresh(key: str) -> str:
        return key

    first = refresh.enqueue("k")
    drain(app)
    assert refresh.enqueue("k").id == first.id, "a finished run within the window is joined"
    clock.advance(timedelta(minutes=10, seconds=1))
    assert refresh.enqueue("k").id != first.id


def test_a_stalled_job_is_taken_back_once_the_clock_passes_the_stall_timeout(
    app: App, clock: Clock
) -> None:
    @app.job
    def work() -> str:
        return "done"

    handle = work.enqueue()
    backend = app.runtime.call(app.backend())
    assert app.runtime.call(backend.claim("dead-worker", ("default",), 1))
    assert drain(app) == []
    clock.advance(31)
    [ran] = drain(app)
    assert (ran.state, ran.losses, ran.result) == (JobState.COMPLETED, 1, "done")
    assert handle.result(timeout=1) == "done"


def test_cron_ticks_follow_the_clock_across_a_day(app: App, clock: Clock) -> None:
    @app.job(cron="0 * * * *")
    def hourly() -> str:
        return "tick"

    assert drain(app) == []
    clock.advance(timedelta(hours=1))
    assert [job.name for job in drain(app)] == ["hourly"]
    for _ in range(23):
        clock.advance(timedelta(hours=1))
        drain(app)
    runs = app.list(name="hourly", limit=100)
    assert len(runs) == 24
    assert all(job.state is JobState.COMPLETED for job in runs)


def test_the_clock_refuses_to_go_back(clock: Clock) -> None:
    with pytest.raises(ConfigurationError, match="only moves forward"):
        clock.advance(-1)
    with pytest.raises(ConfigurationError, match="only moves forward"):
        clock.set(START - timedelta(seconds=1))
    assert clock.moment == START


def test_inline_mode_runs_each_job_as_it_is_enqueued(tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}", inline=True)

    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    @app.job
    def broken() -> None:
        raise ValueError("bad input")

    class Opaque:
        """Not JSON: what a worker could not store, inline mode cannot either."""

    @app.job
    def not_json() -> Any:
        return Opaque()

    handle = add.enqueue(a="1", b=2)
    assert handle.job.state is JobState.COMPLETED
    assert handle.result(timeout=0) == 3
    with pytest.raises(JobFailed, match="bad input"):
        broken.enqueue().result(timeout=0)
    with pytest.raises(JobFailed, match="serialize"):
        not_json.enqueue().result(timeout=0)
    app.close()


def test_a_database_change_after_first_use_is_refused_and_use_database_swaps(
    tmp_path: Path,
) -> None:
    app = App(f"sqlite:///{tmp_path / 'one.db'}")

    @app.job
    def ping() -> None: ...

    ping.enqueue()
    with pytest.raises(ConfigurationError, match="use_database"):
        app.database_url = f"sqlite:///{tmp_path / 'two.db'}"
    app.use_database(f"sqlite:///{tmp_path / 'two.db'}")
    assert app.list() == []
    app.use_database(f"sqlite:///{tmp_path / 'one.db'}")
    assert len(app.list()) == 1
    app.close()


def test_drain_collects_garbage_less_often_while_it_runs_and_as_before_after(
    app: App,
) -> None:
    before = gc.get_threshold()

    @app.job
    def collector() -> int:
        return gc.get_threshold()[0]

    collector.enqueue()
    ran = drain(app)

    assert [job.result for job in ran] == [max(before[0], YOUNG_THRESHOLD)]
    assert gc.get_threshold() == before
