"""The app, jobs and browser helpers shared by the dashboard tests and the screenshot script."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from underway import App, JobContext

CHROMIUM = os.environ.get("UNDERWAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEW_TOKEN = "view-token-0123456789"
MANAGE_TOKEN = "manage-token-0123456789"
TOKENS = f"{VIEW_TOKEN}:jobs:view,{MANAGE_TOKEN}:jobs:manage"
XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
#: Keys the `flaky` job accepts; tests add to it to make a retry succeed.
ALLOWED: set[str] = set()


def hostile_pages(*job_ids: str) -> list[str]:
    """Every dashboard page, with XSS payloads in the URL where a page reads one, plus the
    detail pages of the given jobs."""
    return [
        "/dashboard",
        "/dashboard/jobs",
        f"/dashboard/jobs?q={XSS}",
        "/dashboard/recurring",
        "/dashboard/workflows",
        "/dashboard/workflows/<img src=x onerror=alert(4)>",
        f"/dashboard/login?next={XSS}",
        "/dashboard/jobs/<img src=x onerror=alert(3)>",
        "/dashboard/history",
        "/dashboard/history/<img src=x onerror=alert(5)>",
        "/dashboard/workers",
        *[f"/dashboard/jobs/{job_id}" for job_id in job_ids],
    ]


def chromium_missing_message() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return (
            f"Chromium is not installed at {CHROMIUM}: the dashboard tests drive a real browser. "
            "Run `make chromium` (apt-get install -y chromium) or set UNDERWAY_CHROMIUM."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "Playwright for Python is missing: pip install -e '.[dev]' (or pip install playwright)"
        )
    return None


def build_app(database_url: str) -> App:
    """An app with the jobs the dashboard tests enqueue."""
    app = App(database_url)

    @app.job
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    @app.job
    async def crunch(
        ctx: JobContext, steps: int = 600, pause: float = 0.05, label: str = "finished step"
    ) -> int:
        """A long job that reports progress and writes a log line at every step."""
        for step in range(steps):
            ctx.progress(100 * step / steps, f"step {step} of {steps}")
            ctx.log(f"{label} {step}")
            await asyncio.sleep(pause)
        return steps

    @app.job
    def flaky(key: str) -> str:
        """Fails until the test allows its key."""
        if key not in ALLOWED:
            raise RuntimeError(f"backend for {key} is down")
        return f"done {key}"

    @app.job
    async def held(key: str) -> str:
        """Runs until the test allows its key."""
        while True:
            if key in ALLOWED:
                return f"released {key}"
            await asyncio.sleep(0.02)

    @app.job(queue="reports")
    async def hostile(ctx: JobContext, payload: str, nested: dict[str, Any]) -> None:
        """Writes its payload everywhere the dashboard shows text, then fails with it."""
        ctx.progress(50, payload)
        ctx.log(payload, level="warning")
        raise ValueError(payload)

    return app


def wait_finished(app: App, *job_ids: str, timeout: float = 15.0) -> None:
    """Block until every job has reached a finished state."""
    for job_id in job_ids:
        app.runtime.call(app.wait_finished_async(job_id, timeout))
