"""`underway queues|pause|resume`: see each queue, and stop or restart claims from one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..models import JobState, QueueInfo
from ..rate_limits import stored_rate_limit
from .common_options import AppOption, DatabaseOption, JsonOption
from .output import print_json, print_outcome, print_table, when
from .reporting import UnderwayCommand
from .which_database import choose, opened

QueueName = Annotated[str, typer.Argument(metavar="QUEUE", help="The queue's name.")]


def register(cli: typer.Typer) -> None:
    """Attach the queue commands to the main CLI."""
    cli.command(cls=UnderwayCommand)(queues)
    cli.command(cls=UnderwayCommand)(pause)
    cli.command(cls=UnderwayCommand)(resume)


def queues(
    app_path: AppOption = None, database: DatabaseOption = None, json_output: JsonOption = False
) -> None:
    """Every queue: paused or not, jobs waiting and running, limits, workers serving it."""
    with opened(choose(app_path, database)) as app:
        found = app.queues_info()
    if json_output:
        print_json({"queues": found})
    else:
        print_table(_table(found))


def _table(found: list[QueueInfo]) -> Table:
    caption = f"{len(found)} queue{'' if len(found) == 1 else 's'}"
    table = Table(caption=caption, caption_justify="left")
    for column in ("name", "paused"):
        table.add_column(column)
    for column in ("waiting", "running"):
        table.add_column(column, justify="right")
    table.add_column("limits")
    table.add_column("workers", justify="right")
    for info in found:
        table.add_row(
            escape(info.name),
            _paused_text(info),
            str(info.counts.get(JobState.PENDING.value, 0)),
            str(info.counts.get(JobState.RUNNING.value, 0)),
            limits_text(info),
            str(len(info.workers)),
        )
    return table


def _paused_text(info: QueueInfo) -> str:
    if not info.paused:
        return "no"
    by = f" by {escape(info.paused_by)}" if info.paused_by else ""
    return f"[yellow]since {when(info.paused_at)}{by}[/]"


def limits_text(info: QueueInfo) -> str:
    """The queue's limits in a few words, "-" for none."""
    rate = stored_rate_limit(info.rate_limit, info.rate_window_s, info.rate_fixed)
    parts = [] if info.concurrency is None else [f"{info.concurrency} at once"]
    parts += [] if rate is None else [str(rate)]
    return ", ".join(parts) or "-"


def pause(
    name: QueueName,
    by: Annotated[
        str | None, typer.Option(metavar="NAME", help="Who pauses it, shown with the pause.")
    ] = None,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stop workers claiming the queue's jobs; running ones finish. A queue may be paused
    before any of its jobs is deployed."""
    with opened(choose(app_path, database)) as app:
        paused = app.pause_queue(name, by)
    print_outcome(json_output, paused, f"paused queue {escape(name)}")


def resume(
    name: QueueName,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Let workers claim the queue's jobs again."""
    with opened(choose(app_path, database)) as app:
        resumed = app.resume_queue(name)
    print_outcome(json_output, resumed, f"resumed queue {escape(name)}")
