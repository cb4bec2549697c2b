"""Job objects: `@app.job` returns them; arguments and enqueue options never share names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import fast_settings
from underway import App, ConfigurationError, DuplicateJobError, JobContext, UnknownJobError
from underway.testing import drain


def test_parameters_named_like_options_are_arguments_and_options_apply_apart(app: App) -> None:
    @app.job
    def send(to: str, delay: float, queue: str, priority: int, run_at: str) -> str:
        return f"{to} {delay} {queue} {priority} {run_at}"

    handle = send.options(queue="mail", priority=7).enqueue(
        to="ops", delay=1.5, queue="their-queue", priority=3, run_at="dawn"
    )
    job = handle.job
    assert (job.queue, job.priority) == ("mail", 7)
    assert job.args == {
        "to": "ops",
        "delay": 1.5,
        "queue": "their-queue",
        "priority": 3,
        "run_at": "dawn",
    }
    drain(app, queues="mail")
    assert handle.result(timeout=0) == "ops 1.5 their-queue 3 dawn"


def test_by_name_arguments_are_one_mapping_and_options_are_keywords(app: App) -> None:
    @app.job
    def send(to: str, delay: float) -> None: ...

    later = datetime.now(UTC) + timedelta(hours=1)
    handle = app.enqueue("send", {"to": "x", "delay": 2.0}, run_at=later, queue="q")
    assert handle.job.args == {"to": "x", "delay": 2.0}
    assert handle.job.queue == "q"
    assert handle.job.run_at == later
    with pytest.raises(TypeError):
        app.enqueue("send", to="x", delay=2.0)  # type: ignore[call-arg]


def test_options_chain_and_a_later_option_replaces_an_earlier(app: App) -> None:
    @app.job(queue="default", priority=1)
    def ping() -> None: ...

    fast = ping.options(queue="fast", priority=5)
    job = fast.options(priority=9).enqueue().job
    assert (job.queue, job.priority) == ("fast", 9)
    assert ping.enqueue().job.queue == "default", "options() must not change the job itself"


def test_schedule_takes_a_delay_or_a_datetime_before_the_arguments(app: App) -> None:
    @app.job
    def remind(when: str) -> None: ...

    delayed = remind.schedule(timedelta(minutes=5), when="soon").job
    assert delayed.args == {"when": "soon"}
    assert delayed.run_at is not None
    assert delayed.run_at > delayed.created_at
    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert remind.schedule(at, "later").job.run_at == at
    with pytest.raises(ConfigurationError, match="delay= or run_at="):
        remind.options(delay=5, run_at=at)
    with pytest.raises(ConfigurationError, match="delay= or run_at="):
        app.enqueue("remind", {"when": "x"}, delay=5, run_at=at)
    assert remind.options(delay=5).options(run_at=at).enqueue("x").job.run_at == at


def test_calling_the_job_object_calls_the_function(app: App) -> None:
    calls: list[tuple[int, int]] = []

    @app.job
    def add(a: int, b: int) -> int:
        calls.append((a, b))
        return a + b

    assert add(2, b=3) == 5
    assert calls == [(2, 3)]
    assert app.list() == [], "a direct call stores nothing"
    assert add.__name__ == "add"
    assert add.__wrapped__ is not None


async def test_async_job_objects_return_coroutines_and_typed_results(app: App) -> None:
    @app.job
    async def double(ctx: JobContext, n: int) -> int:
        return n * 2

    app.start_worker(fast_settings())
    assert await double.run_async(n=21) == 42
    handle = await double.enqueue_async(5)
    assert await handle.wait(timeout=10) == 10


def test_enqueue_many_takes_checked_arguments_or_mappings(app: App) -> None:
    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    handles = add.enqueue_many([add.arguments(1, 2), add.arguments(a=3, b=4), {"a": 5, "b": 6}])
    drain(app)
    assert [h.result(timeout=0) for h in handles] == [3, 7, 11]


def test_on_duplicate_raise_and_a_job_of_another_app_are_clear_errors(app: App) -> None:
    @app.job(unique="join")
    def once(key: str) -> None: ...

    first = once.enqueue(key="k")
    with pytest.raises(DuplicateJobError, match=first.id):
        once.options(on_duplicate="raise").enqueue(key="k")
    other = App(app.database_url)

    @other.job(name="once")
    def elsewhere(key: str) -> None: ...

    with pytest.raises(UnknownJobError):
        app.enqueue(elsewhere, {"key": "k"})
    other.close()


def test_another_apps_job_object_registers_its_function_with_new_options(app: App) -> None:
    elsewhere = App(app.database_url)

    @elsewhere.job(queue="theirs")
    def shared(n: int) -> int:
        return n

    ours = app.job(queue="ours")(shared)
    assert ours.enqueue(1).job.queue == "ours"
    assert ours(2) == 2
    with pytest.raises(ConfigurationError, match="already registered"):
        app.job(shared)
    elsewhere.close()


def test_a_job_object_gives_typed_handles_for_its_own_jobs_only(app: App) -> None:
    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    @app.job
    def other() -> None: ...

    stored = add.enqueue(1, 2)
    assert add.handle(stored.id).id == stored.id
    with pytest.raises(ConfigurationError, match="runs 'add', not 'other'"):
        other.handle(stored.id)
