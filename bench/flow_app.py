"""The app that the flow-control scenarios' workers load (issue "Flow control"): no-op jobs
with and without rate limits and concurrency keys, and a job of the queue the pause scenario
pauses. Jobs whose start times matter append one line each to the starts file."""

from __future__ import annotations

import asyncio
import os
import time

from underway import App, JobContext

from .probe import done

STARTS_ENV = "BENCH_STARTS"
#: The queue the pause scenarios pause.
PAUSED_QUEUE = "email"
#: `saturated`: starts per key per window of this many seconds.
SATURATED_LIMIT = 4
SATURATED_WINDOW_S = 2.0
app = App()
_fd: list[int] = []


def started(key: str, job_id: str = "-") -> None:
    """Note one start: `key pid wall-time job-id`, one O_APPEND write (atomic across
    processes, as the completion counter's)."""
    if not _fd:
        _fd.append(os.open(os.environ[STARTS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    os.write(_fd[0], f"{key} {os.getpid()} {time.time():.6f} {job_id}\n".encode())


@app.job
async def plain(key: str) -> None:
    """The baseline: the same argument as the limited jobs, and no limit."""
    done()


@app.job(rate_limit="50/second", rate_key="key")
async def paced(ctx: JobContext, key: str) -> None:
    """At most 50 starts per key in any second (sliding window)."""
    started(key, ctx.job_id)
    done()


@app.job(rate_limit="50/second", rate_key="key", rate_window="fixed")
async def paced_fixed(ctx: JobContext, key: str) -> None:
    """At most 50 starts per key in each second of the clock (fixed window)."""
    started(key, ctx.job_id)
    done()


@app.job(rate_limit="100/second", rate_key="key")
async def keyed_rate(key: str) -> None:
    """A rate key per argument, with fewer jobs per key than its limit: never reached."""
    done()


@app.job(concurrency=1000, concurrency_key="key")
async def keyed_lane(key: str) -> None:
    """A concurrency lane per argument, wider than a worker's slots: never full."""
    done()


@app.job(unique="queue", queue_limit=100)
async def bounded(key: str) -> None:
    """At most 100 runs per key wait: the bench stores 20 a key, all of them."""
    done()


@app.job(unique="join")
async def joined(key: str) -> None:
    """One run per key at a time: requests for a key with a run waiting join it."""
    done()


@app.job(rate_limit="1/hour", rate_key="key")
async def hourly(key: str) -> None:
    """One start per key per hour: a key that made it holds its other jobs back."""
    done()


@app.job(rate_limit=f"{SATURATED_LIMIT}/{SATURATED_WINDOW_S:g}s", rate_key="key")
async def saturated(key: str) -> None:
    """Every key at its limit while it has work: its starts open one slot at a time."""
    done()


@app.job(queue=PAUSED_QUEUE)
async def mail(n: int, seconds: float = 0.0) -> None:
    """A job of the queue that gets paused; notes its start, then takes `seconds`."""
    started(PAUSED_QUEUE)
    if seconds:
        await asyncio.sleep(seconds)
    done()
