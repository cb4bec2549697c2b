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
from underway.dashboard.throughput import Minute, chart

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


def on_own_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine in a thread of its own (Playwright's loop may be running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_the_hour_counts_finished_jobs_the_rollup_has_not_folded_yet(tmp_path: Path) -> None:
    app: App = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    app.start_worker(concurrency=2, poll_interval=0.05)
    try:
        ids = [app.enqueue("add", {"a": i}).id for i in range(5)]
        ids += [app.enqueue("flaky", {"key": "x"}).id]
        wait_finished(app, *ids)
        steps = app.history("1h")
        now = datetime.now(UTC)
    finally:
        app.close()

    assert len(steps) == 60
    assert sum(step.completed for step in steps) == 5
    assert sum(step.failed for step in steps) == 1
    assert steps[-1].at <= now < steps[-1].at + timedelta(minutes=1)
