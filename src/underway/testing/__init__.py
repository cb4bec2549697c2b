"""Helpers to test code that uses jobs: drain, inline runs, a clock, assertions, contexts.

With pytest, the `underway` plugin (installed with underway) adds the `underway_app` and
`underway_clock` fixtures; see docs/testing.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..app import App, JobRef
from ..models import Job
from .assertions import assert_enqueued, assert_not_enqueued, enqueued
from .clock import Clock
from .context import Reported, TestContext


def drain(
    app: App,
    *,
    queues: Iterable[str] | str | None = None,
    jobs: Iterable[JobRef] | JobRef | None = None,
    concurrency: int = 10,
) -> list[Job]:
    """Run every due job in this process, with the app's own code, until none is due: jobs
    enqueued by jobs too, and cron ticks and stalled jobs that the app's clock made due.
    Returns each job that ran, as it ended (completed, failed, cancelled, or scheduled for
    a retry not yet due). It serves the queues the app's jobs declare, as a worker does,
    unless given `queues`; and every job, unless given `jobs` (job objects or names): the
    others wait. Refused while the app has a worker running."""
    return app.runtime.call(app.drain_async(queues=queues, jobs=jobs, concurrency=concurrency))


async def drain_async(
    app: App,
    *,
    queues: Iterable[str] | str | None = None,
    jobs: Iterable[JobRef] | JobRef | None = None,
    concurrency: int = 10,
) -> list[Job]:
    """`drain` for async tests."""
    return await app.drain_async(queues=queues, jobs=jobs, concurrency=concurrency)


__all__ = [
    "Clock",
    "Reported",
    "TestContext",
    "assert_enqueued",
    "assert_not_enqueued",
    "drain",
    "drain_async",
    "enqueued",
]
