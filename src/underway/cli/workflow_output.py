"""How the CLI shows workflows and batches: a table of them, one with its members, a live
progress bar while one runs, and JSON documents for scripts."""

from __future__ import annotations

import time
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..app.workflow_handle import WorkflowHandle
from ..errors import WorkflowWaitTimeout
from ..models import Job, JobState
from ..workflow_models import Workflow, WorkflowState
from .output import console, job_table, plain, when

POLL_INTERVAL_S = 0.2
STATE_STYLES: dict[WorkflowState, str] = {
    "active": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def workflow_document(workflow: Workflow, jobs: list[Job] | None = None) -> dict[str, Any]:
    """A workflow as JSON for scripts: what the HTTP API shows of it, and its members if given."""
    document = {
        "id": workflow.id,
        "kind": workflow.kind,
        "name": workflow.name,
        "state": workflow.state,
        "progress": percent(workflow),
        "counts": {state.value: workflow.counts.get(state.value, 0) for state in JobState},
        "total": workflow.total,
        "ended": workflow.ended,
        "created_at": workflow.created_at.isoformat(),
    }
    if jobs is not None:
        document["jobs"] = plain(jobs)
    return document


def percent(workflow: Workflow) -> float:
    """The share of members that ended, in percent as jobs' progress is."""
    return round(workflow.progress, 2)


def state_text(state: WorkflowState) -> Text:
    return Text(state, style=STATE_STYLES[state])


def counts_text(workflow: Workflow) -> str:
    """The members per state, the empty states left out: "3 completed, 1 running"."""
    parts = [f"{n} {state}" for state, n in sorted(workflow.counts.items()) if n]
    return ", ".join(parts) or "no members"


def workflows_table(workflows: list[Workflow], total: int) -> Table:
    """Workflows and batches with full ids (to copy into `underway workflow show`)."""
    table = Table(
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        caption=f"{len(workflows)} of {total} workflows",
        caption_justify="left",
    )
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("kind", "name", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("ended", justify="right", no_wrap=True)
    table.add_column("%", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for workflow in workflows:
        table.add_row(
            workflow.id,
            workflow.kind,
            escape(workflow.name or "-"),
            state_text(workflow.state),
            f"{workflow.ended}/{workflow.total}",
            f"{percent(workflow):.0f}",
            when(workflow.created_at),
        )
    return table


def workflow_details(workflow: Workflow, jobs: list[Job], width: int) -> RenderableType:
    """A workflow's state, progress and counts, then its members in the order stored."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    bar = Table.grid(padding=(0, 1))
    style = {"completed": "green", "failed": "red"}.get(workflow.state, "yellow")
    bar.add_row(
        ProgressBar(total=100, completed=percent(workflow), width=16, complete_style=style),
        Text(f"{workflow.ended}/{workflow.total} ended"),
    )
    rows: list[tuple[str, RenderableType]] = [
        ("id", workflow.id),
        ("kind", workflow.kind),
        ("name", escape(workflow.name or "-")),
        ("state", state_text(workflow.state)),
        ("progress", bar),
        ("members", counts_text(workflow)),
        ("created", when(workflow.created_at)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return Group(table, Text(""), job_table(jobs, len(jobs), width))


def follow_workflow(handle: WorkflowHandle, timeout: float | None) -> Workflow:
    """Show how many members ended until none can run any more; the workflow as it ended."""
    deadline = None if timeout is None else time.monotonic() + timeout
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[counts]}", markup=False),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("", total=100, counts="")
        while True:
            workflow = handle.status()
            title = escape(workflow.name or workflow.kind)
            style = STATE_STYLES[workflow.state]
            progress.update(
                task,
                description=f"{title} [{style}]{workflow.state}[/]",
                completed=percent(workflow),
                counts=counts_text(workflow),
            )
            if workflow.state != "active":
                return workflow
            if deadline is not None and time.monotonic() >= deadline:
                raise WorkflowWaitTimeout(
                    workflow.id, timeout or 0.0, workflow.ended, workflow.total
                )
            time.sleep(POLL_INTERVAL_S)
