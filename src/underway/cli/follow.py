"""Following one job live until it ends: a Rich progress bar, then its new log lines above it."""

from __future__ import annotations

import time

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from ..app import App
from ..errors import WaitTimeout
from ..models import Job
from .output import STATE_STYLES, console, log_line

POLL_INTERVAL_S = 0.2


def follow_job(app: App, job_id: str, timeout: float | None) -> Job:
    """Show the job's percentage, state and message until it finishes; return it finished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    job = app.get(job_id)
    with _progress() as progress:
        task = progress.add_task("", total=100, message="")
        logs_shown = 0
        while True:
            logs_shown = _show_new_logs(app, progress, job_id, logs_shown)
            _update(progress, task, job)
            if job.state.is_finished:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(job_id, timeout or 0.0, job.state.value)
            time.sleep(POLL_INTERVAL_S)
            job = app.get(job_id)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[message]}", markup=False),
        TimeElapsedColumn(),
        console=console,
    )


def _show_new_logs(app: App, progress: Progress, job_id: str, shown: int) -> int:
    entries = app.logs(job_id, after=shown)
    for entry in entries:
        progress.console.print(log_line(entry))
    return shown + len(entries)


def _update(progress: Progress, task: TaskID, job: Job) -> None:
    style = STATE_STYLES[job.state]
    progress.update(
        task,
        description=f"{job.name} [{style}]{job.state.value}[/]",
        completed=job.progress,
        message=job.message or "",
    )
