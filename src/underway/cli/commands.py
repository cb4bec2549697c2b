"""The `underway` command: run workers, enqueue and inspect jobs, and a live demo."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from ..config import WorkerSettings
from ..errors import UnderwayError
from ..models import JobFilter, JobState
from . import worker_options as options
from .follow import follow_job
from .loading import CommandError, json_arguments, opened_app, select_app
from .output import console, err_console, job_details, job_table, print_error
from .recurring_commands import register as register_recurring
from .worker_command import configure_logging, run_worker
from .worker_options import Seconds

DEFAULTS = WorkerSettings()
#: Exit codes of `status --wait` for a job that did not complete.
WAIT_EXIT_CODES = {JobState.FAILED: 1, JobState.CANCELLED: 3, JobState.SKIPPED: 4}
STATUS_LOG_LINES = 10


class ReportingGroup(TyperGroup):
    """Turns expected errors into one red line and exit status 1, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UnderwayError as exc:
            print_error(str(exc))
        except sqlite3.Error as exc:
            print_error(f"database error: {exc}")
        raise typer.Exit(1)


cli = typer.Typer(
    name="underway",
    cls=ReportingGroup,
    help="Durable background jobs: run workers, enqueue and inspect jobs, try the demo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

register_recurring(cli, ReportingGroup)

AppPath = Annotated[
    str, typer.Argument(metavar="APP", help="Your App as module:attribute, e.g. proj.jobs:app.")
]
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="UNDERWAY_DATABASE_URL",
        help="Database URL (default: the --app's, else sqlite:///underway.db).",
        show_default=False,
    ),
]
DatabaseOverride = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="UNDERWAY_DATABASE_URL",
        help="Database URL, in place of the app's own.",
        show_default=False,
    ),
]
AppOption = Annotated[
    str | None, typer.Option("--app", help="Use this App (module:attribute) and its database.")
]
JobId = Annotated[str, typer.Argument(metavar="ID", help="The job's id.")]


def main() -> None:
    """Entry point of the `underway` console script."""
    cli(prog_name="underway")


@cli.command()
def worker(
    app_path: AppPath,
    database: DatabaseOverride = None,
    concurrency: options.Concurrency = DEFAULTS.concurrency,
    queues: options.Queues = None,
    poll_interval: Seconds = DEFAULTS.poll_interval,
    heartbeat_interval: Seconds = DEFAULTS.heartbeat_interval,
    stall_timeout: options.StallTimeout = DEFAULTS.stall_timeout,
    sweep_interval: Seconds = DEFAULTS.sweep_interval,
    prune_interval: Seconds = DEFAULTS.prune_interval,
    lease_check_interval: Seconds = DEFAULTS.lease_check_interval,
    flush_interval: options.FlushInterval = DEFAULTS.flush_interval,
    flush_batch_size: int = DEFAULTS.flush_batch_size,
    max_log_entries: options.MaxLogEntries = DEFAULTS.max_log_entries,
    shutdown_grace: options.ShutdownGrace = DEFAULTS.shutdown_grace,
    sweeper: options.Sweeper = True,
    scheduler: options.Scheduler = True,
    max_stuck_slots: options.MaxStuckSlots = None,
    log_level: options.LogLevel = "info",
) -> None:
    """Run jobs until SIGINT/SIGTERM: no new claims, running jobs get the grace period, the rest
    go back to the queue. A second signal exits at once."""
    settings = WorkerSettings(
        concurrency=concurrency,
        queues=_split(queues),
        poll_interval=poll_interval,
        heartbeat_interval=heartbeat_interval,
        stall_timeout=stall_timeout,
        sweep_interval=sweep_interval,
        prune_interval=prune_interval,
        lease_check_interval=lease_check_interval,
        flush_interval=flush_interval,
        flush_batch_size=flush_batch_size,
        max_log_entries=max_log_entries,
        shutdown_grace=shutdown_grace,
        sweeper=sweeper,
        scheduler=scheduler,
        max_stuck_slots=max_stuck_slots,
    )
    configure_logging(log_level)
    run_worker(select_app(app_path, database), settings)


AllowedHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        metavar="NAME",
        help="A host name to answer to besides localhost, 127.0.0.1 and [::1] (*.example.com "
        "for subdomains, * for any); repeat for more. Default: only those three without "
        "tokens, any with tokens.",
        show_default=False,
    ),
]
ForwardedAllowIpsOption = Annotated[
    str | None,
    typer.Option(
        metavar="ADDRESSES",
        help="Believe X-Forwarded-For/-Proto from these proxy addresses (comma-separated, * "
        "for any). Default: from none.",
        show_default=False,
    ),
]


@cli.command()
def serve(
    app_path: AppPath,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            metavar="TOKEN:SCOPE",
            help="A bearer token and its scope (jobs:view or jobs:manage); repeat for more. "
            "Default: UNDERWAY_TOKENS.",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option(help="Allow a non-loopback address without tokens.")
    ] = False,
    allowed_host: AllowedHostOption = None,
    forwarded_allow_ips: ForwardedAllowIpsOption = None,
    worker: Annotated[
        bool, typer.Option(help="Also run a worker and the scheduler (--no-worker: API only).")
    ] = True,
    concurrency: Annotated[int, typer.Option(help="Jobs the worker runs at once.")] = (
        DEFAULTS.concurrency
    ),
    database: DatabaseOverride = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the HTTP API (and, unless --no-worker, a worker) until interrupted."""
    from ..api.serve import serve as serve_api

    configure_logging(log_level)
    serve_api(
        select_app(app_path, database),
        host=host,
        port=port,
        tokens=",".join(token) if token else None,
        insecure=insecure,
        allowed_hosts=allowed_host,
        forwarded_allow_ips=forwarded_allow_ips,
        worker=worker,
        worker_settings=WorkerSettings(concurrency=concurrency),
        log_level=log_level,
    )


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    names = [name.strip() for value in values or [] for name in value.split(",")]
    return tuple(name for name in names if name) or None


@cli.command()
def enqueue(
    app_path: AppPath,
    name: Annotated[str, typer.Argument(help="The job's registered name.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    delay: Annotated[float | None, typer.Option(help="Run after this many seconds.")] = None,
    priority: Annotated[int | None, typer.Option(help="Higher runs first.")] = None,
    queue: Annotated[str | None, typer.Option(help="Override the job's queue.")] = None,
    database: DatabaseOverride = None,
) -> None:
    """Validate the arguments, store the job and print its id."""
    arguments = json_arguments(args)
    with opened_app(app_path, database, must_exist=False) as app:
        handle = app.enqueue(name, arguments, delay=delay, priority=priority, queue=queue)
        console.print(handle.id)
        if handle.joined:
            err_console.print("an identical job is already active; joined it")
        elif handle.skipped:
            err_console.print(f"skipped: an identical job is active ({handle.duplicate_of})")


@cli.command()
def status(
    job_id: JobId,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the job live until it ends.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="With --wait: give up after this many seconds.")
    ] = None,
    database: Database = None,
    app_path: AppOption = None,
) -> None:
    """Show a job. With --wait, exit 0 if it completed, 1 failed, 3 cancelled, 4 skipped."""
    with opened_app(app_path, database) as app:
        if not wait:
            job = app.get(job_id)
            logs = app.logs(job_id, after=max(0, job.log_count - STATUS_LOG_LINES))
            console.print(job_details(job, logs))
            return
        job = follow_job(app, job_id, timeout)
    if job.state is not JobState.COMPLETED:
        error = f": {job.error.type}: {job.error.message}" if job.error else ""
        print_error(f"job {job.id} {job.state.value}{error}")
        raise typer.Exit(WAIT_EXIT_CODES.get(job.state, 1))
    console.print(f"[green]completed[/]: {json.dumps(job.result, default=str)}")


@cli.command("list")
def list_jobs(
    state: Annotated[
        list[str] | None,
        typer.Option("--state", "-s", help="Only these states: comma-separated or repeated."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Only jobs with this name.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 20,
    database: Database = None,
    app_path: AppOption = None,
) -> None:
    """List jobs, newest first."""
    query = JobFilter(states=_states(state), name=name, limit=limit)
    with opened_app(app_path, database) as app:
        page = app.list_page(query)
    console.print(job_table(page.jobs, page.total, console.width))


def _states(values: list[str] | None) -> tuple[JobState, ...]:
    names = _split(values) or ()
    known = {s.value for s in JobState}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CommandError(f"unknown state {unknown[0]!r}; use one of {', '.join(sorted(known))}")
    return tuple(JobState(n) for n in names)


@cli.command()
def cancel(job_id: JobId, database: Database = None, app_path: AppOption = None) -> None:
    """Cancel a waiting job now; a running one is told to stop within a second."""
    with opened_app(app_path, database) as app:
        job = app.cancel(job_id)
    if job.state is JobState.RUNNING:
        console.print(f"cancel requested: job {job.id} is running and stops within a second")
    else:
        console.print(f"job {job.id} is {job.state.value}")


@cli.command()
def retry(job_id: JobId, database: Database = None, app_path: AppOption = None) -> None:
    """Run a failed or cancelled job again."""
    with opened_app(app_path, database) as app:
        job = app.retry(job_id)
    console.print(f"job {job.id} is {job.state.value} again")


@cli.command()
def migrate(database: Database = None, app_path: AppOption = None) -> None:
    """Create or upgrade the database schema."""
    with opened_app(app_path, database, must_exist=False, migrate=False) as app:
        applied = app.migrate()
    console.print(f"applied {', '.join(applied)}" if applied else "the schema is up to date")


@cli.command()
def demo(
    database_file: Annotated[
        str, typer.Option("--file", help="SQLite file for the demo, recreated on each run.")
    ] = "underway-demo.db",
) -> None:
    """Run example jobs on a local SQLite file and watch them live (about 15 seconds)."""
    from .demo import run_demo

    run_demo(database_file)
