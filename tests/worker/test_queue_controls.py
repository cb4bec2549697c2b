"""Queues declared with `app.queue`, stored by the workers that serve them; pause, resume
and what the app shows of its queues, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import App, ConfigurationError
from underway.backends.postgres import PostgresBackend
from underway.backends.sqlite import SQLiteBackend
from underway.errors import QueueNotFound, StorageUnavailable
from underway.models import QueueInfo, QueueLimits
from underway.rate_limits import RateLimit


def test_declared_queues_are_checked_at_once_and_served_by_the_apps_workers(app: App) -> None:
    email = app.queue("email", concurrency=20, rate_limit="10/second")
    reports = app.queue("reports", rate_limit=RateLimit(5, 60), rate_window="fixed")

    assert email == QueueLimits("email", 20, 10, 1.0, False)
    assert reports == QueueLimits("reports", None, 5, 60.0, True)
    assert app.declared_queues() == [email, reports]
    assert app.queues() == ("default", "email", "reports")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("email", {"concurrency": 0}, "concurrency is at least 1"),
        ("email", {"concurrency": True}, "concurrency is at least 1"),
        ("email", {"rate_limit": "often"}, "rate_limit is a RateLimit or text"),
        ("email", {"rate_limit": "5/second", "rate_window": "rolling"}, "sliding"),
        ("email", {"rate_window": "fixed"}, "rate_window is only valid with rate_limit"),
        ("", {}, "a queue name is non-empty text"),
        ("a\x00b", {}, "without control characters"),
    ],
)
def test_bad_queue_declarations_are_refused(
    app: App, name: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        app.queue(name, **options)
    assert app.declared_queues() == []


def test_a_queue_is_declared_once(app: App) -> None:
    app.queue("email", concurrency=2)
    with pytest.raises(ConfigurationError, match="already declared"):
        app.queue("email", concurrency=3)


def test_a_starting_worker_stores_the_declared_limits_and_serves_the_queue(app: App) -> None:
    app.queue("email", concurrency=3, rate_limit="10/minute", rate_window="fixed")
    app.pause_queue("email", by="ops")
    app.pause_queue("old", by="ops")
    app.run_blocking(limit_stored(app, QueueLimits("old", concurrency=1)))

    running = app.start_worker(fast_settings())

    # The worker stores the limits, then registers itself.
    email = wait_until(lambda: served(app, "email"))
    assert email.workers == (running.worker.id,)
    assert (email.concurrency, email.rate_limit, email.rate_window_s, email.rate_fixed) == (
        3,
        10,
        60.0,
        True,
    )
    assert (email.paused, email.paused_by) == (True, "ops")
    old = app.queue_info("old")
    assert (old.paused, old.concurrency) == (True, None)


def served(app: App, name: str) -> QueueInfo | None:
    """The queue once a worker serves it, else None."""
    info = app.queue_info(name)
    return info if info.workers else None


async def limit_stored(app: App, limits: QueueLimits) -> None:
    """Limits stored as another app's worker would have stored them."""
    await (await app.backend()).sync_queue_limits([limits])


def test_a_worker_retries_storing_the_limits_while_the_database_fails(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_type = PostgresBackend if database_url.startswith("postgresql") else SQLiteBackend
    sync = backend_type.sync_queue_limits
    failures = [StorageUnavailable("connection killed"), StorageUnavailable("killed again")]

    async def failing_at_first(self: Any, declared: Any) -> None:
        if failures:
            raise failures.pop()
        await sync(self, declared)

    monkeypatch.setattr(backend_type, "sync_queue_limits", failing_at_first)
    app.queue("email", concurrency=3)

    @app.job(queue="email")
    def send() -> str:
        return "sent"

    handle = send.enqueue()
    app.start_worker(fast_settings())

    assert handle.result(timeout=10) == "sent"
    assert failures == []
    assert app.queue_info("email").concurrency == 3


def test_pause_and_resume_through_the_app(app: App) -> None:
    @app.job(queue="email")
    def send() -> None: ...

    send.enqueue()
    paused = app.pause_queue("email", by="alice")
    assert (paused.paused, paused.paused_by, paused.counts) == (True, "alice", {"pending": 1})
    assert app.queue_info("email") == paused

    resumed = app.resume_queue("email")
    assert (resumed.paused, resumed.paused_at, resumed.counts) == (False, None, {"pending": 1})


def test_queues_nobody_knows_are_not_found_but_may_be_paused(app: App) -> None:
    with pytest.raises(QueueNotFound, match="no queue named 'later'"):
        app.queue_info("later")
    with pytest.raises(QueueNotFound):
        app.resume_queue("later")

    app.pause_queue("later")

    assert app.queue_info("later").paused
    assert not app.resume_queue("later").paused


def test_every_queue_a_job_declares_is_shown_even_before_it_is_stored(app: App) -> None:
    app.queue("email", concurrency=2)

    @app.job(queue="reports")
    def build() -> None: ...

    app.pause_queue("maintenance")

    shown = app.queues_info()

    assert [info.name for info in shown] == ["default", "email", "maintenance", "reports"]
    assert shown[0] == QueueInfo("default")
    assert shown[2].paused
    assert app.queue_info("reports") == QueueInfo("reports")
    assert app.resume_queue("email") == QueueInfo("email")
