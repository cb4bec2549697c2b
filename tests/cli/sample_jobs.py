"""Jobs the CLI tests run, importable as `sample_jobs:app` from this directory."""

from __future__ import annotations

import asyncio
import gc
import time

from underway import App, JobContext


def make_app(database: str | None = None) -> App:
    """A fresh app with the sample jobs (tests need several apps with the same jobs)."""
    app = App(database)

    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    @app.job
    async def slow(ctx: JobContext, seconds: float) -> str:
        """Sleeps in steps, reporting progress; honours cancellation (its task is cancelled)."""
        steps = 20
        for step in range(1, steps + 1):
            await asyncio.sleep(seconds / steps)
            ctx.progress(100 * step / steps, f"step {step}")
            ctx.log(f"step {step} done")
        return "slept"

    @app.job
    def stubborn(seconds: float) -> str:
        """A sync job that ignores cancellation (threads cannot be stopped from outside)."""
        time.sleep(seconds)
        return "finally"

    @app.job
    def fail(message: str) -> None:
        raise RuntimeError(message)

    @app.job
    def collector() -> list[int]:
        """How the worker process paces the garbage collector: its young threshold, and
        how many objects it set apart for good."""
        return [gc.get_threshold()[0], gc.get_freeze_count()]

    return app


app = make_app()
