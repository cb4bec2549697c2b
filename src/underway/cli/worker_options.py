"""The options of `underway worker`, typed once so that the command reads as a list."""

from __future__ import annotations

from typing import Annotated

import typer

Seconds = Annotated[float, typer.Option(metavar="SECONDS")]
Concurrency = Annotated[int, typer.Option(help="Jobs run at once.")]
Queues = Annotated[
    list[str] | None,
    typer.Option(
        "--queues",
        "-q",
        metavar="NAMES",
        help="Queues, comma-separated or repeated (default: all of the app's).",
    ),
]
StallTimeout = Annotated[
    float, typer.Option(metavar="SECONDS", help="A job without heartbeat this long is requeued.")
]
MaxLosses = Annotated[
    int,
    typer.Option(
        help="The loss of its worker (killed, frozen past the stall timeout) that fails a job "
        "as WorkerLost; the losses before it spend no retries."
    ),
]
FlushInterval = Annotated[
    float, typer.Option(metavar="SECONDS", help="How often progress and logs are written.")
]
MaxLogEntries = Annotated[int, typer.Option(help="Log lines kept per job.")]
ShutdownGrace = Annotated[
    float, typer.Option(metavar="SECONDS", help="Time running jobs get to finish after a signal.")
]
Sweeper = Annotated[bool, typer.Option(help="Recover stalled jobs, prune old ones.")]
Scheduler = Annotated[bool, typer.Option(help="Fire recurring (cron) jobs.")]
MaxStuckSlots = Annotated[
    int | None,
    typer.Option(
        help="Past this many slots stuck on jobs that ignore their timeout, drain "
        "and exit 75 to be restarted (default: concurrency / 2)."
    ),
]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error.")]
