"""`underway demo`: run the example jobs on a fresh SQLite file and watch them live."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .. import demo
from ..app import App
from ..app.handle import JobHandle
from ..config import WorkerSettings
from ..models import Job, JobState, LogEntry
from .loading import CommandError
from .output import attempts_text, console, log_line, progress_cell, state_text

SETTINGS = WorkerSettings(
    concurrency=4,
    poll_interval=0.2,
    heartbeat_interval=1.0,
    stall_timeout=10.0,
    sweep_interval=0.5,
    lease_check_interval=0.2,
    flush_interval=0.2,
    shutdown_grace=1.0,
)
DEADLINE_S = 25.0
REFRESH_S = 0.25
LOG_LINES = 5


def run_demo(file: str) -> None:
    """Start a worker in this process, enqueue the examples, show them until all have ended."""
    url = f"sqlite:///{file}"
    _remove_database(Path(file))
    app = demo.app
    app.database_url = url
    logging.getLogger("underway").addHandler(logging.NullHandler())
    started = time.monotonic()
    try:
        app.start_worker(SETTINGS)
        ids = _enqueue_examples(app)
        jobs = _watch(app, ids, started)
    finally:
        app.close()
    console.print(_summary(jobs, time.monotonic() - started, file))
    if not all(job.state.is_finished for job in jobs):
        raise CommandError(f"the demo jobs did not all finish within {DEADLINE_S:g} s")


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _enqueue_examples(app: App) -> list[str]:
    handles: list[JobHandle[Any]] = [
        demo.build_report.enqueue(month="2026-10"),
        demo.flaky_upload.enqueue(file="report-2026-10.pdf"),
        demo.charge_card.enqueue(customer="ACME Corp", cents=4200),
        demo.send_reminder.schedule(4, to="ops@example.com"),
        demo.resize_image.enqueue(name="logo.png", width=256),
        demo.resize_image.enqueue(name="banner.png", width=1024),
    ]
    return [handle.id for handle in handles]


def _watch(app: App, ids: list[str], started: float) -> list[Job]:
    with Live(console=console, refresh_per_second=8) as live:
        while True:
            jobs = [app.get(job_id) for job_id in ids]
            long_job = jobs[0]
            logs = app.logs(long_job.id, after=max(0, long_job.log_count - LOG_LINES))
            elapsed = time.monotonic() - started
            live.update(_view(jobs, logs, elapsed))
            if all(job.state.is_finished for job in jobs) or elapsed > DEADLINE_S:
                return jobs
            time.sleep(REFRESH_S)


def _view(jobs: list[Job], logs: list[LogEntry], elapsed: float) -> RenderableType:
    table = Table(
        title=f"underway demo · one worker, {SETTINGS.concurrency} slots · {elapsed:4.1f} s"
    )
    for column in ("job", "state", "attempts", "progress", "message"):
        table.add_column(column, no_wrap=column != "message")
    for job in jobs:
        table.add_row(
            job.name,
            state_text(job.state),
            attempts_text(job),
            progress_cell(job),
            escape(_message(job)),
        )
    lines = [log_line(entry) for entry in logs] or [Text("(no lines yet)", style="dim")]
    return Group(table, Panel(Group(*lines), title=f"{jobs[0].name} log", title_align="left"))


def _message(job: Job) -> str:
    if job.state is JobState.SCHEDULED:
        at = f"{job.run_at.astimezone():%H:%M:%S}"
        if job.error is None:
            return f"runs at {at}"
        return f"retry at {at} after {job.error.type}: {job.error.message}"
    if job.state is JobState.FAILED and job.error is not None:
        return f"failed: {job.error.type}: {job.error.message}"
    return job.message or ""


def _summary(jobs: list[Job], elapsed: float, file: str) -> RenderableType:
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.state.value] = counts.get(job.state.value, 0) + 1
    tally = ", ".join(f"{n} {state}" for state, n in counts.items())
    database = "" if file == "underway-demo.db" else f" --database sqlite:///{file}"
    app = f"--app underway.demo:app{database}"
    hints = [
        f"underway list {app}",
        f"underway status {jobs[0].id} {app}",
        f"underway worker {app}        # in a second terminal",
        f'underway enqueue {app} build_report --args \'{{"month": "2026-11"}}\'',
        f"underway status ID --wait {app}",
    ]
    return Group(
        Text(f"\nDone in {elapsed:.1f} s: {tally}.", style="bold"),
        Text("The failed job is expected: its card is always declined.", style="dim"),
        Text("\nTry next:"),
        *(Text(f"  {hint}", style="cyan") for hint in hints),
    )
