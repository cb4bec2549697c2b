"""`underway workflows` and `underway workflow show|start|cancel|retry`: start workflows and
batches from JSON files, and follow and steer them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..app import workflow_json
from ..app.workflow_handle import WorkflowHandle
from ..workflow_models import Workflow
from .common_options import AppOption, CreateOption, DatabaseOption, JsonOption
from .loading import CommandError
from .output import console, output_width, print_error, print_json, print_outcome, print_table
from .reporting import UnderwayCommand, UnderwayGroup
from .which_database import choose, opened
from .workflow_output import (
    counts_text,
    follow_workflow,
    workflow_details,
    workflow_document,
    workflows_table,
)

#: Exit codes of `workflow start --wait` for a workflow that did not complete.
WAIT_EXIT_CODES = {"failed": 1, "cancelled": 3}
WorkflowId = Annotated[str, typer.Argument(metavar="ID", help="The workflow's or batch's id.")]


def register(cli: typer.Typer) -> None:
    """Attach `workflows` and the `workflow` command group to the main CLI."""
    cli.command("workflows", cls=UnderwayCommand)(list_workflows)
    commands = typer.Typer(
        cls=UnderwayGroup,
        help="Start workflows and batches from JSON, show, cancel and retry them.",
        no_args_is_help=True,
    )
    for command in (show, start, cancel, retry):
        commands.command(cls=UnderwayCommand)(command)
    cli.add_typer(commands, name="workflow")


def list_workflows(
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 20,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """List workflows and batches, newest first, with how many of their members ended."""
    with opened(choose(app_path, database)) as app:
        page = app.workflows(limit)
    if json_output:
        print_json(
            {"workflows": [workflow_document(w) for w in page.workflows], "total": page.total}
        )
    else:
        print_table(workflows_table(page.workflows, page.total))


def show(
    workflow_id: WorkflowId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a workflow or batch: its state, progress, and its members with their states."""
    with opened(choose(app_path, database)) as app:
        handle = app.workflow(workflow_id)
        workflow, jobs = handle.status(), handle.jobs()
    if json_output:
        print_json(workflow_document(workflow, jobs))
    else:
        print_table(workflow_details(workflow, jobs, output_width()))


def start(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help='A workflow {"flow": ...} or batch {"jobs": [...]} as JSON; - reads stdin.',
        ),
    ],
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow it until no member can run any more.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="With --wait: give up after this many seconds.")
    ] = None,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    create: CreateOption = False,
    json_output: JsonOption = False,
) -> None:
    """Store a workflow or batch of your app's jobs and print its id.

    With --wait, exit 0 if it completed, 1 if a member failed, 3 if one was cancelled."""
    document = _read_document(file)
    target = choose(app_path, database, needs_app="workflow start")
    with opened(target, create=create, offers_create=True) as app:
        plan = workflow_json.read_document(app, document)
        handle = workflow_json.start(app, plan)
        if not json_output:
            console.print(handle.id)
        workflow = _waited(handle, timeout, live=not json_output) if wait else handle.status()
    if json_output:
        print_json(workflow_document(workflow))
    if wait:
        _exit_by_outcome(workflow, json_output)


def _read_document(file: str) -> Any:
    """The JSON document in `file` (stdin for -)."""
    name = "stdin" if file == "-" else file
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeError as exc:
        raise CommandError(f"{name} is not UTF-8 text: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{name} is not valid JSON: {exc}") from None


def _waited(handle: WorkflowHandle, timeout: float | None, *, live: bool) -> Workflow:
    return follow_workflow(handle, timeout) if live else handle.wait(timeout)


def _exit_by_outcome(workflow: Workflow, json_output: bool) -> None:
    """After `--wait`: a line for people, and the exit code that says how it ended."""
    if workflow.state == "completed":
        if not json_output:
            console.print(f"[green]completed[/]: {counts_text(workflow)}")
        return
    if not json_output:
        print_error(f"{workflow.kind} {workflow.id} {workflow.state}: {counts_text(workflow)}")
    raise typer.Exit(WAIT_EXIT_CODES.get(workflow.state, 1))


def cancel(
    workflow_id: WorkflowId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Cancel the members that have not started; running ones are told to stop."""
    with opened(choose(app_path, database)) as app:
        workflow = app.workflow(workflow_id).cancel()
    text = f"{workflow.kind} {workflow.id} is {workflow.state}: {counts_text(workflow)}"
    print_outcome(json_output, workflow_document(workflow), text)


def retry(
    workflow_id: WorkflowId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run again the members that failed or were cancelled, and what waits on them."""
    with opened(choose(app_path, database)) as app:
        workflow = app.workflow(workflow_id).retry()
    text = f"{workflow.kind} {workflow.id} is {workflow.state}: {counts_text(workflow)}"
    print_outcome(json_output, workflow_document(workflow), text)
