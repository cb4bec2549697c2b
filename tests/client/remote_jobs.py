"""Jobs the client tests submit, importable as `remote_jobs:app` from this directory."""

from __future__ import annotations

import time
from pathlib import Path

from underway import App, JobContext

app = App()


@app.job
def add(a: int, b: int = 2) -> int:
    return a + b


@app.job
def pair(x: int) -> dict[str, int]:
    return {"x": x, "y": 2 * x}


@app.job
def fail(message: str) -> None:
    raise RuntimeError(message)


def wait_for(ctx: JobContext, marker: str) -> str:
    """Return once the file `marker` exists or the job is cancelled."""
    while not Path(marker).exists() and not ctx.cancelled:
        time.sleep(0.02)
    return marker


@app.job
def hold(ctx: JobContext, marker: str) -> str:
    """Run until the file `marker` exists or the job is cancelled."""
    return wait_for(ctx, marker)


@app.job(unique="skip")
def solo(ctx: JobContext, marker: str) -> str:
    """Like `hold`, one at a time: a second while one is active is refused."""
    return wait_for(ctx, marker)
