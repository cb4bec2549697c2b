"""The fault suite's probe jobs, plus `meet`, which ends at a given wall-clock time: two
workers running the last two members of a fan-in end them at the same instant."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.faults import probe
from tests.faults.probe import record
from underway import App, JobContext

app = App()
app.registry.update(probe.app.registry)


@app.job(retries=5)
async def meet(ctx: JobContext, key: str, at: float) -> dict[str, Any]:
    """Start, wait until the wall clock reads `at`, end; the end record carries the wall
    time, to show how close two such ends came."""
    record(ctx, "start", key=key)
    await asyncio.sleep(max(0.0, at - time.time()))
    record(ctx, "end", key=key, wall=time.time())
    return {"key": key, "attempt": ctx.attempt}
