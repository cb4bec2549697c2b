"""The dashboard's pure parts: sessions, redirects, the throughput buckets and chart, escaping."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from underway import App
from underway.dashboard.access import safe_next
from underway.dashboard.rendering import CSP, templates, when
from underway.dashboard.sessions import SessionStore
from underway.dashboard.throughput import Minute, MinuteCache, chart, finished_per_minute
from underway.models import JobFilter, JobPage, Stats

from .support import XSS, build_app, wait_finished

T = TypeVar("T")


def test_sessions_expire_after_idle_time_and_the_oldest_are_dropped_beyond_the_limit() -> None:
    store = SessionStore(idle_timeout_s=0.0, limit=2)
    first = store.create()
    assert store.get(first.id) is None

    store = SessionStore(limit=2)
    a, b, c = store.create(), store.create(), store.create()
    assert store.get(a.id) is None
    assert store.get(b.id) is b
    assert store.get(c.id) is c


def test_a_flood_of_anonymous_sessions_does_not_sign_anyone_out() -> None:
    store = SessionStore(limit=2)
    signed_in = store.create(frozenset({"jobs:manage"}))
    for _ in range(10):
        store.create()

    assert store.get(signed_in.id) is signed_in


def test_signing_in_rotates_the_session_id_and_csrf_token() -> None:
    store = SessionStore()
    anonymous = store.create()
    signed_in = store.rotate(anonymous, frozenset({"jobs:view"}))

    assert store.get(anonymous.id) is None
    assert signed_in.id != anonymous.id
    assert signed_in.csrf != anonymous.csrf
    assert signed_in.csrf_matches(signed_in.csrf)
    assert not signed_in.csrf_matches(anonymous.csrf)
    assert not signed_in.csrf_matches(None)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/jobs?state=failed", "/dashboard/jobs?state=failed"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard\\@evil.example", "/dashboard"),
        ("/api/jobs", "/dashboard"),
        (None, "/dashboard"),
    ],
)
def test_only_dashboard_paths_are_places_to_return_to(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_templates_escape_everything_and_times_are_machine_readable() -> None:
    html = templates.from_string("<p>{{ text }}</p>{{ at|when }}").render(
        text=XSS, at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    )

    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert '<time datetime="2026-11-23T10:00:00+00:00" data-form="full">' in html
    assert str(when(None)) == '<span class="muted">—</span>'
    assert "'unsafe-inline'" not in CSP
    assert "script-src 'self'" in CSP


def test_chart_scales_bars_to_the_busiest_minute() -> None:
    start = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    minutes = [Minute(start + timedelta(minutes=i)) for i in range(60)]
    minutes[10] = Minute(minutes[10].start, completed=3, failed=1)
    minutes[59] = Minute(minutes[59].start, completed=2)

    drawn = chart(minutes, width=600, height=104)

    assert (drawn.peak, drawn.total, len(drawn.bars)) == (4, 6, 60)
    assert drawn.bars[10].h_completed + drawn.bars[10].h_failed == pytest.approx(100)
    assert drawn.bars[59].h_completed == pytest.approx(50)
    assert drawn.bars[0].h_completed == 0


def test_finished_jobs_are_counted_in_their_minute(tmp_path: Path) -> None:
    app: App = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    app.start_worker(concurrency=2, poll_interval=0.05)
    try:
        ids = [app.enqueue("add", {"a": i}).id for i in range(5)]
        ids += [app.enqueue("flaky", {"key": "x"}).id]
        wait_finished(app, *ids)
        now = datetime.now(UTC)
        minutes = app.runtime.call(finished_per_minute(app, now))
    finally:
        app.close()

    assert len(minutes) == 60
    assert sum(m.completed for m in minutes) == 5
    assert sum(m.failed for m in minutes) == 1
    assert minutes[-1].start <= now < minutes[-1].start + timedelta(minutes=1)


class CountingApp:
    """Stands in for App: counts how often the chart's listing is read."""

    def __init__(self) -> None:
        self.reads = 0

    async def list_page_async(self, query: JobFilter) -> JobPage:
        self.reads += 1
        return JobPage(jobs=[], total=0)


def on_own_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine in a thread of its own (Playwright's loop may be running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_minute_counts_are_read_again_only_when_a_job_finished_or_the_minute_turned() -> None:
    app, cache = CountingApp(), MinuteCache()
    now = datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)
    quiet = Stats(counts={"completed": 3}, finished_last_hour=3)

    on_own_loop(cache.get(app, now, quiet))  # type: ignore[arg-type]
    on_own_loop(cache.get(app, now + timedelta(seconds=30), quiet))  # type: ignore[arg-type]
    assert app.reads == 1

    finished = Stats(counts={"completed": 4}, finished_last_hour=4)
    on_own_loop(cache.get(app, now + timedelta(seconds=31), finished))  # type: ignore[arg-type]
    on_own_loop(cache.get(app, now + timedelta(minutes=1), finished))  # type: ignore[arg-type]
    assert app.reads == 3
