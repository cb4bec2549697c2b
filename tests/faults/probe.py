"""Probe jobs for the fault suite; each run appends start/end records to an fsynced ledger."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from tests.ticks import EverySecond
from underway import App, JobContext

FAULT_DIR = Path(os.environ.get("FAULT_DIR", "."))
#: Never set: waiting on it pauses like time.sleep, which libfaketime breaks (scenario 8).
PAUSE = threading.Event()
app = App()


if os.environ.get("PROBE_TICKS") == "seconds":
    app.schedule_for = lambda cron, timezone: EverySecond()


def record(ctx: JobContext, event: str, **extra: Any) -> None:
    line = {
        "job": ctx.job_id,
        "name": ctx.name,
        "attempt": ctx.attempt,
        "pid": os.getpid(),
        "ev": event,
        "t": time.monotonic(),
        **extra,
    }
    path = FAULT_DIR / f"ledger-{os.getpid()}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def behave(ctx: JobContext, key: str, duration_ms: int, mode: str) -> dict[str, Any]:
    record(ctx, "start", key=key)
    if mode == "crash":
        os._exit(137)
    deadline = time.monotonic() + duration_ms / 1000
    while time.monotonic() < deadline and (mode == "ignore_cancel" or not ctx.cancelled):
        PAUSE.wait(min(0.01, max(0.0, deadline - time.monotonic())))
    if ctx.cancelled and mode != "ignore_cancel":
        record(ctx, "stopped", key=key)  # stopped early on request: not a completed execution
        raise InterruptedError("stopped on request")
    record(ctx, "end", key=key)
    return {"key": key, "attempt": ctx.attempt}


@app.job(retries=5)
def probe(ctx: JobContext, key: str, duration_ms: int = 0, mode: str = "normal") -> dict[str, Any]:
    return behave(ctx, key, duration_ms, mode)


@app.job(retries=5)
async def probe_async(ctx: JobContext, key: str, duration_ms: int = 0) -> dict[str, Any]:
    """An async job: stopped (its lease given up, or cancelled) it ends at once."""
    record(ctx, "start", key=key)
    try:
        await asyncio.sleep(duration_ms / 1000)
    except asyncio.CancelledError:
        record(ctx, "stopped", key=key)
        raise
    record(ctx, "end", key=key)
    return {"key": key, "attempt": ctx.attempt}


@app.job(retries=2)
def probe_fragile(ctx: JobContext, key: str, mode: str = "normal") -> dict[str, Any]:
    return behave(ctx, key, 0, mode)


@app.job(unique="join", unique_by=("key",))
def probe_join(ctx: JobContext, key: str, duration_ms: int = 0, n: int = 0) -> dict[str, Any]:
    return behave(ctx, key, duration_ms, "normal")


@app.job(timeout=1.0)
def probe_hang(ctx: JobContext, key: str, duration_ms: int) -> dict[str, Any]:
    """A sync job that ignores its 1 s timeout (and cancellation) for `duration_ms`."""
    return behave(ctx, key, duration_ms, "ignore_cancel")


@app.job(retries=2, concurrency=2, concurrency_key="key")
def probe_limited(ctx: JobContext, key: str, duration_ms: int = 0, n: int = 0) -> dict[str, Any]:
    return behave(ctx, key, duration_ms, "normal")


@app.job(retries=5, unique="queue", unique_by=("key",))
def probe_serial(ctx: JobContext, key: str, duration_ms: int = 0, n: int = 0) -> dict[str, Any]:
    return behave(ctx, key, duration_ms, "normal")


@app.job(retries=5, rate_limit="20/second", rate_key="key")
def probe_rated(ctx: JobContext, key: str, duration_ms: int = 0, n: int = 0) -> dict[str, Any]:
    """At most 20 attempts of one key start per sliding second, across all workers. The start
    record carries the wall clock too, to set beside the claim time the database stored."""
    record(ctx, "start", key=key, wall=time.time())
    PAUSE.wait(duration_ms / 1000)
    record(ctx, "end", key=key)
    return {"key": key, "attempt": ctx.attempt}


@app.job(retries=5, retention=120)
def probe_soak(ctx: JobContext, key: str, enqueued: float) -> dict[str, Any]:
    """A short job kept for two minutes; its start record carries the enqueue time."""
    record(ctx, "start", key=key, enqueued=enqueued)
    record(ctx, "end", key=key)
    return {"key": key, "attempt": ctx.attempt}
