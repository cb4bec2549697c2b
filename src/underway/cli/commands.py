"""The `underway` command: run workers and the HTTP API, manage the schema, try the demo; the
job and recurring commands join it from their own modules."""

from __future__ import annotations

from importlib.metadata import version
from typing import Annotated, Any

import typer

from ..app.alerts import AlertRules
from ..config import WorkerSettings
from . import worker_options as options
from .common_options import (
    AppOption,
    CreateOption,
    DatabaseOption,
    JsonOption,
    LogFormat,
    LogFormatOption,
)
from .job_commands import register as register_job_commands
from .loading import CommandError
from .output import console, print_json
from .queue_commands import register as register_queue_commands
from .recurring_commands import register as register_recurring_commands
from .reporting import UnderwayCommand, UnderwayGroup
from .which_database import choose, opened
from .why_command import register as register_why_command
from .worker_command import configure_logging, run_worker
from .worker_options import Seconds
from .workflow_commands import register as register_workflow_commands

DEFAULTS = WorkerSettings()
#: The top-level modules of the server extra (pyproject.toml: [project.optional-dependencies]).
SERVER_EXTRA_MODULES = frozenset({"fastapi", "starlette", "uvicorn", "prometheus_client", "jinja2"})

cli = typer.Typer(
    name="underway",
    cls=UnderwayGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """Entry point of the `underway` console script."""
    cli(prog_name="underway")


def _print_version(value: bool) -> None:
    if value:
        console.print(f"underway {version('underway')}")
        raise typer.Exit()


@cli.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Durable background jobs: run workers, enqueue and inspect jobs, try the demo."""


register_job_commands(cli)
register_why_command(cli)
register_recurring_commands(cli)
register_queue_commands(cli)
register_workflow_commands(cli)


@cli.command(cls=UnderwayCommand)
def worker(
    app_path: AppOption = None,
    database: DatabaseOption = None,
    create: CreateOption = False,
    concurrency: options.Concurrency = DEFAULTS.concurrency,
    queues: options.Queues = None,
    poll_interval: Seconds = DEFAULTS.poll_interval,
    heartbeat_interval: Seconds = DEFAULTS.heartbeat_interval,
    stall_timeout: options.StallTimeout = DEFAULTS.stall_timeout,
    sweep_interval: Seconds = DEFAULTS.sweep_interval,
    max_losses: options.MaxLosses = DEFAULTS.max_losses,
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
    log_format: LogFormatOption = LogFormat.TEXT,
) -> None:
    """Run jobs until SIGINT or SIGTERM.

    After the first signal no new jobs are claimed, running jobs get the grace period and the
    rest go back to the queue; a second signal exits at once."""
    settings = WorkerSettings(
        concurrency=concurrency,
        queues=_split(queues),
        poll_interval=poll_interval,
        heartbeat_interval=heartbeat_interval,
        stall_timeout=stall_timeout,
        sweep_interval=sweep_interval,
        max_losses=max_losses,
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
    target = choose(app_path, database, needs_app="worker")
    configure_logging(log_level, log_format)
    with opened(target, create=create, offers_create=True) as app:
        run_worker(app, settings)


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


@cli.command(cls=UnderwayCommand)
def serve(
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
        bool, typer.Option("--insecure", help="Allow a non-loopback address without tokens.")
    ] = False,
    allowed_host: AllowedHostOption = None,
    forwarded_allow_ips: ForwardedAllowIpsOption = None,
    worker: Annotated[
        bool, typer.Option(help="Also run a worker and the scheduler (--no-worker: API only).")
    ] = True,
    concurrency: Annotated[int, typer.Option(help="Jobs the worker runs at once.")] = (
        DEFAULTS.concurrency
    ),
    alert_oldest_waiting: Annotated[
        float,
        typer.Option(
            min=0.001,
            metavar="SECONDS",
            help="Alert when a queue's oldest waiting job has been due this long.",
        ),
    ] = AlertRules().oldest_waiting_s,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    create: CreateOption = False,
    log_level: options.LogLevel = "info",
    log_format: LogFormatOption = LogFormat.TEXT,
) -> None:
    """Serve the HTTP API (and, unless --no-worker, a worker) until interrupted."""
    serve_api = _server()
    target = choose(app_path, database, needs_app="serve")
    configure_logging(log_level, log_format)
    # uvicorn's own log configuration would keep its lines as text.
    uvicorn_logging = {"log_config": None} if log_format is LogFormat.JSON else {}
    with opened(target, create=create, offers_create=True) as app:
        serve_api(
            app,
            host=host,
            port=port,
            tokens=",".join(token) if token else None,
            insecure=insecure,
            allowed_hosts=allowed_host,
            forwarded_allow_ips=forwarded_allow_ips,
            worker=worker,
            worker_settings=WorkerSettings(concurrency=concurrency),
            alert_rules=AlertRules(oldest_waiting_s=alert_oldest_waiting),
            log_level=log_level,
            **uvicorn_logging,
        )


def _server() -> Any:
    """The API's `serve`, or one line saying how to install what it needs."""
    try:
        from ..api.serve import serve as serve_api
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in SERVER_EXTRA_MODULES:
            raise
        raise CommandError(
            "underway serve needs the server extra, which is not installed "
            '(pip install "underway[server]")'
        ) from None
    return serve_api


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    names = [name.strip() for value in values or [] for name in value.split(",")]
    return tuple(name for name in names if name) or None


@cli.command(cls=UnderwayCommand)
def migrate(
    app_path: AppOption = None, database: DatabaseOption = None, json_output: JsonOption = False
) -> None:
    """Create the database if need be, and create or upgrade its schema."""
    with opened(choose(app_path, database), create=True, migrate=False) as app:
        applied = app.migrate()
    if json_output:
        print_json({"applied": applied})
    else:
        done = f"applied {', '.join(applied)}" if applied else "the schema is up to date"
        console.print(done, soft_wrap=True)


@cli.command(cls=UnderwayCommand)
def demo(
    database_file: Annotated[
        str, typer.Option("--file", help="SQLite file for the demo, recreated on each run.")
    ] = "underway-demo.db",
) -> None:
    """Run example jobs on a local SQLite file and watch them live (about 15 seconds)."""
    from .demo import run_demo

    run_demo(database_file)
