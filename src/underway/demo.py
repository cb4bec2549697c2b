"""Example jobs for `underway demo`, also a worker target:
`underway worker --app underway.demo:app`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import App, Backoff, JobContext

DEMO_DATABASE = "sqlite:///underway-demo.db"

app = App(DEMO_DATABASE)


@app.job(retries=1, timeout=120)
async def build_report(
    ctx: JobContext, month: str, pages: int = 20, seconds: float = 10.0
) -> dict[str, Any]:
    """A long job that reports its progress and writes a log line per page."""
    for page in range(1, pages + 1):
        await asyncio.sleep(seconds / pages)
        ctx.progress(100 * page / pages, f"rendered page {page} of {pages}")
        ctx.log(f"page {page}: {40 * page} rows")
    return {"month": month, "pages": pages, "url": f"/reports/{month}.pdf"}


@app.job(retries=3, backoff=Backoff(base=1.0, factor=1.5, jitter=0.0))
async def flaky_upload(ctx: JobContext, file: str, fail_times: int = 2) -> str:
    """Fails its first `fail_times` attempts (a flaky network), then succeeds on a retry."""
    ctx.progress(30, f"uploading {file} (attempt {ctx.attempt})")
    await asyncio.sleep(0.5)
    if ctx.attempt <= fail_times:
        ctx.log(f"attempt {ctx.attempt}: connection reset", level="warning")
        raise ConnectionError(f"connection reset while uploading {file}")
    ctx.progress(100, "uploaded")
    return f"s3://demo/{file}"


@app.job(retries=1, backoff=Backoff(base=1.0, jitter=0.0))
def charge_card(ctx: JobContext, customer: str, cents: int) -> None:
    """Always fails (the card is declined), so the demo shows a job that fails for good."""
    ctx.progress(50, f"charging {customer}")
    time.sleep(0.3)
    raise ValueError(f"card of {customer} declined for {cents / 100:.2f} EUR")


@app.job
async def send_reminder(ctx: JobContext, to: str) -> str:
    """A quick job the demo schedules a few seconds ahead."""
    ctx.progress(100, f"mailed {to}")
    return f"reminder sent to {to}"


@app.job
def resize_image(ctx: JobContext, name: str, width: int) -> dict[str, Any]:
    """A quick sync job (it runs in the worker's thread pool)."""
    time.sleep(0.2)
    ctx.progress(100, f"{name} → {width}px")
    return {"name": name, "width": width}
