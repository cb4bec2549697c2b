"""How the CLI shows jobs: one-line errors, tables, job details and progress bars (Rich), and
JSON documents for scripts."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..models import Job, JobState, LogEntry

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
#: How wide a table may grow when stdout is a pipe or a file: never cut a cell there.
UNLIMITED_WIDTH = 10_000

STATE_STYLES = {
    JobState.WAITING: "bright_black",
    JobState.SCHEDULED: "cyan",
    JobState.PENDING: "blue",
    JobState.RUNNING: "yellow",
    JobState.COMPLETED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "magenta",
    JobState.SKIPPED: "dim",
}


def print_error(message: str) -> None:
    """One red line on stderr: what went wrong, never a traceback."""
    line = " ".join(message.split())
    err_console.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)


def print_json(document: Any) -> None:
    """One JSON document on stdout: dataclasses as objects, times in ISO 8601."""
    sys.stdout.write(json.dumps(plain(document), ensure_ascii=False, default=str) + "\n")


def print_outcome(as_json: bool, document: Any, text: str) -> None:
    """What a command did: `document` as JSON for scripts, else one line for people."""
    if as_json:
        print_json(document)
    else:
        console.print(text)


def plain(value: Any) -> Any:
    """A value of the models (jobs, log lines, recurring jobs) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def output_width() -> int:
    """The terminal's width, or no limit when stdout is not a terminal."""
    return console.width if console.is_terminal else UNLIMITED_WIDTH


def print_table(table: RenderableType) -> None:
    """On a terminal, fit the table to it; in a pipe or a file, keep every cell whole, so
    that ids can be copied and grepped."""
    if console.is_terminal:
        console.print(table)
        return
    options = console.options.update_width(UNLIMITED_WIDTH)
    width = Measurement.get(console, options, table).maximum
    Console(file=console.file, width=width, highlight=False).print(table)


def state_text(state: JobState) -> Text:
    return Text(state.value, style=STATE_STYLES[state])


def attempts_text(job: Job) -> str:
    return f"{job.attempt}/{job.max_attempts}"


def progress_cell(job: Job, width: int = 16) -> RenderableType:
    """A small bar with the percentage; green when done, red when the job failed."""
    style = {JobState.COMPLETED: "green", JobState.FAILED: "red"}.get(job.state, "yellow")
    bar = ProgressBar(total=100, completed=job.progress, width=width, complete_style=style)
    table = Table.grid(padding=(0, 1))
    table.add_row(bar, Text(f"{job.progress:3.0f}%"))
    return table


def when(moment: datetime | None) -> str:
    """A local wall-clock time, with the date only when it is not today."""
    if moment is None:
        return "-"
    local = moment.astimezone()
    today = datetime.now(UTC).astimezone().date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M:%S")


def job_table(jobs: list[Job], total: int, width: int) -> RenderableType:
    """The job list with full ids (to copy into other commands); messages on wide terminals."""
    wide = width >= 110
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        caption=f"{len(jobs)} of {total} jobs",
        caption_justify="left",
    )
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("name", no_wrap=True, min_width=12)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("tries", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    if wide:
        table.add_column("created", no_wrap=True)
        table.add_column("message", ratio=1)
    for job in jobs:
        more = [when(job.created_at), escape(_message(job))] if wide else []
        table.add_row(
            job.id,
            job.name,
            state_text(job.state),
            attempts_text(job),
            f"{job.progress:.0f}",
            *more,
        )
    return table


def _message(job: Job) -> str:
    if job.state is JobState.FAILED and job.error is not None:
        return f"{job.error.type}: {job.error.message}"
    return job.message or ""


def job_details(job: Job, logs: list[LogEntry]) -> RenderableType:
    """Everything about one job, then its last log lines."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in _detail_rows(job):
        table.add_row(label, value)
    parts: list[RenderableType] = [table]
    if logs:
        parts.append(Text("\nlog", style="bold"))
        parts.extend(log_line(entry) for entry in logs)
    return Group(*parts)


def _detail_rows(job: Job) -> list[tuple[str, RenderableType]]:
    rows: list[tuple[str, RenderableType]] = [
        ("id", job.id),
        ("name", job.name),
        ("state", state_text(job.state)),
        ("queue", f"{job.queue} (priority {job.priority})"),
        ("arguments", escape(_json(job.args))),
        ("attempts", attempts_text(job)),
        ("progress", progress_cell(job)),
        ("message", escape(job.message or "-")),
        ("created", when(job.created_at)),
        ("runs at", when(job.run_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("worker", job.worker_id or "-"),
    ]
    if job.state is JobState.COMPLETED:
        rows.append(("result", escape(_json(job.result))))
    if job.error is not None:
        rows.append(("error", Text(f"{job.error.type}: {job.error.message}", style="red")))
    return rows


def log_line(entry: LogEntry) -> Text:
    style = {"error": "red", "warning": "yellow"}.get(entry.level, "")
    return Text.assemble((when(entry.at), "dim"), " ", (entry.message, style))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
