"""The underway app that benchmark workers load: one no-op async job (database from the env)."""

from __future__ import annotations

from underway import App

from .probe import done

app = App()


@app.job
async def noop(sent: float = 0.0) -> None:
    """Does nothing but tell the benchmark it ran (and when it started)."""
    done(sent)


async def nothing() -> None:
    """The in-process drain's job: does nothing at all (the drain's return counts the jobs)."""
