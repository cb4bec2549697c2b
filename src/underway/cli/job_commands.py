"""`underway enqueue|status|list|cancel|retry|delete`: store jobs, and read and steer them."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..app import App
from ..models import Job, JobFilter, JobState
from .common_options import AppOption, CreateOption, DatabaseOption, JsonOption
from .follow import follow_job
from .loading import CommandError, json_arguments
from .output import (
    console,
    err_console,
    job_details,
    job_table,
    output_width,
    plain,
    print_error,
    print_json,
    print_outcome,
    print_table,
)
from .reporting import UnderwayCommand
from .which_database import choose, opened

#: Exit codes of `status --wait` for a job that did not complete.
WAIT_EXIT_CODES = {JobState.FAILED: 1, JobState.CANCELLED: 3, JobState.SKIPPED: 4}
STATUS_LOG_LINES = 10
JobId = Annotated[str, typer.Argument(metavar="ID", help="The job's id.")]


def register(cli: typer.Typer) -> None:
    """Attach the job commands to the main CLI."""
    cli.command(cls=UnderwayCommand)(enqueue)
    cli.command(cls=UnderwayCommand)(status)
    cli.command("list", cls=UnderwayCommand)(list_jobs)
    cli.command(cls=UnderwayCommand)(cancel)
    cli.command(cls=UnderwayCommand)(retry)
    cli.command(cls=UnderwayCommand)(delete)


def enqueue(
    name: Annotated[str, typer.Argument(help="The job's registered name.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    delay: Annotated[float | None, typer.Option(help="Run after this many seconds.")] = None,
    priority: Annotated[int | None, typer.Option(help="Higher runs first.")] = None,
    queue: Annotated[str | None, typer.Option(help="Override the job's queue.")] = None,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    create: CreateOption = False,
    json_output: JsonOption = False,
) -> None:
    """Validate the arguments, store the job and print its id."""
    arguments = json_arguments(args)
    target = choose(app_path, database, needs_app="enqueue")
    with opened(target, create=create, offers_create=True) as app:
        handle = app.enqueue(name, arguments, delay=delay, priority=priority, queue=queue)
        if json_output:
            print_json({**plain(handle.job), "joined": handle.joined})
            return
        console.print(handle.id)
        if handle.joined:
            err_console.print("an identical job is already active; joined it")
        elif handle.skipped:
            err_console.print(f"skipped: an identical job is active ({handle.duplicate_of})")


def status(
    job_id: JobId,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job live until it ends.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="With --wait: give up after this many seconds.")
    ] = None,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a job. With --wait, exit 0 if it completed, 1 failed, 3 cancelled, 4 skipped."""
    with opened(choose(app_path, database)) as app:
        job = _read_or_wait(app, job_id, wait=wait, timeout=timeout, live=not json_output)
        shows_logs = json_output or not wait
        logs = (
            app.logs(job_id, after=max(0, job.log_count - STATUS_LOG_LINES)) if shows_logs else []
        )
    if json_output:
        print_json({**plain(job), "logs": plain(logs)})
    elif not wait:
        console.print(job_details(job, logs))
    if wait:
        _exit_by_outcome(job, json_output)


def _read_or_wait(app: App, job_id: str, *, wait: bool, timeout: float | None, live: bool) -> Job:
    """The job now, or once it has ended: with a live progress bar, or quietly for scripts."""
    if not wait:
        return app.get(job_id)
    if live:
        return follow_job(app, job_id, timeout)
    return app.runtime.call(app.wait_finished_async(job_id, timeout))


def _exit_by_outcome(job: Job, json_output: bool) -> None:
    """After `status --wait`: the result, or the exit code that says how the job ended."""
    if job.state is JobState.COMPLETED:
        if not json_output:
            console.print(f"[green]completed[/]: {json.dumps(job.result, default=str)}")
        return
    if not json_output:
        error = f": {job.error.type}: {job.error.message}" if job.error else ""
        print_error(f"job {job.id} {job.state.value}{error}")
    raise typer.Exit(WAIT_EXIT_CODES.get(job.state, 1))


def list_jobs(
    state: Annotated[
        list[str] | None,
        typer.Option("--state", "-s", help="Only these states: comma-separated or repeated."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Only jobs with this name.")] = None,
    queue: Annotated[str | None, typer.Option(help="Only jobs in this queue.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 20,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    query = JobFilter(states=_states(state), name=name, queue=queue, limit=limit)
    with opened(choose(app_path, database)) as app:
        page = app.list_page(query)
    if json_output:
        print_json({"jobs": page.jobs, "total": page.total})
    else:
        print_table(job_table(page.jobs, page.total, output_width()))


def _states(values: list[str] | None) -> tuple[JobState, ...]:
    names = [name.strip() for value in values or [] for name in value.split(",")]
    known = {s.value for s in JobState}
    unknown = [n for n in names if n and n not in known]
    if unknown:
        raise CommandError(f"unknown state {unknown[0]!r}; use one of {', '.join(sorted(known))}")
    return tuple(JobState(n) for n in names if n)


def cancel(
    job_id: JobId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Cancel a waiting job now; a running one is told to stop within a second."""
    with opened(choose(app_path, database)) as app:
        job = app.cancel(job_id)
    if job.state is JobState.RUNNING:
        text = f"cancel requested: job {job.id} is running and stops within a second"
    else:
        text = f"job {job.id} is {job.state.value}"
    print_outcome(json_output, job, text)


def retry(
    job_id: JobId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a failed or cancelled job again."""
    with opened(choose(app_path, database)) as app:
        job = app.retry(job_id)
    print_outcome(json_output, job, f"job {job.id} is {job.state.value} again")


def delete(
    job_id: JobId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete a job with its result and logs; an active one is cancelled first."""
    with opened(choose(app_path, database)) as app:
        app.delete(job_id)
    print_outcome(json_output, {"deleted": job_id}, f"deleted {job_id}")
