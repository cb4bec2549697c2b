"""`underway recurring ...`: list, add, toggle, remove and trigger recurring (cron) jobs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..app import App
from ..errors import RecurringNotFound
from ..models import Recurring
from ..recurring import describe_cron
from .common_options import AppOption, CreateOption, DatabaseOption, JsonOption
from .loading import json_arguments
from .output import console, print_json, print_outcome, print_table, state_text, when
from .reporting import UnderwayCommand, UnderwayGroup
from .which_database import choose, opened

RecurringRef = Annotated[
    str, typer.Argument(metavar="ID|NAME", help="The recurring job's id or name.")
]


def register(cli: typer.Typer) -> None:
    """Attach the `recurring` command group to the main CLI."""
    commands = typer.Typer(
        cls=UnderwayGroup, help="Manage recurring (cron) jobs.", no_args_is_help=True
    )
    commands.command("list", cls=UnderwayCommand)(list_recurring)
    for command in (add, toggle, remove, trigger):
        commands.command(cls=UnderwayCommand)(command)
    cli.add_typer(commands, name="recurring")


def list_recurring(
    app_path: AppOption = None, database: DatabaseOption = None, json_output: JsonOption = False
) -> None:
    """Every recurring job: schedule, next run, last run and its state."""
    with opened(choose(app_path, database)) as app:
        rows = app.list_recurring()
    if json_output:
        print_json({"recurring": rows})
    else:
        print_table(_table(rows))


def _table(rows: list[Recurring]) -> Table:
    table = Table()
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("name", "job", "schedule", "enabled", "next run", "last run", "last state"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.id,
            r.name,
            r.job_name,
            f"{r.cron} ({r.timezone})\n{describe_cron(r.cron, r.timezone)}",
            "yes" if r.enabled else "no",
            when(r.next_fire_at) if r.enabled else "-",
            when(r.last_fire_at),
            state_text(r.last_job_state) if r.last_job_state else "-",
        )
    return table


def add(
    name: Annotated[str, typer.Argument(help="A unique name for the schedule.")],
    cron: Annotated[str, typer.Argument(help='Cron expression, e.g. "0 3 * * *" or @daily.')],
    job: Annotated[str, typer.Argument(help="The registered job to run.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    timezone: Annotated[str, typer.Option(help="IANA timezone of the schedule.")] = "UTC",
    overlap: Annotated[str, typer.Option(help="skip, queue or allow.")] = "skip",
    catch_up: Annotated[str, typer.Option(help="one or none.")] = "one",
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it disabled.")] = False,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    create: CreateOption = False,
    json_output: JsonOption = False,
) -> None:
    """Store a recurring job and print its id."""
    arguments = json_arguments(args)
    target = choose(app_path, database, needs_app="recurring add")
    with opened(target, create=create, offers_create=True) as app:
        recurring_id = app.add_recurring(
            name,
            cron,
            job,
            arguments,
            timezone=timezone,
            enabled=not disabled,
            overlap=overlap,  # type: ignore[arg-type]
            catch_up=catch_up,  # type: ignore[arg-type]
        )
        stored = app.get_recurring(recurring_id) if json_output else None
    if stored is not None:
        print_json(stored)
    else:
        console.print(recurring_id)


def toggle(
    ref: RecurringRef,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Enable a disabled recurring job, or disable an enabled one."""
    with opened(choose(app_path, database)) as app:
        recurring = app.toggle_recurring(recurring_id(app, ref))
    state = "enabled" if recurring.enabled else "disabled"
    print_outcome(json_output, recurring, f"{recurring.name} is {state}")


def remove(
    ref: RecurringRef,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete a recurring job (jobs it already created stay)."""
    with opened(choose(app_path, database)) as app:
        removed = recurring_id(app, ref)
        app.remove_recurring(removed)
    print_outcome(json_output, {"removed": removed}, f"removed {removed}")


def trigger(
    ref: RecurringRef,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run a recurring job now, outside its schedule; prints the new job's id."""
    with opened(choose(app_path, database, needs_app="recurring trigger")) as app:
        handle = app.trigger_recurring(recurring_id(app, ref))
        job = handle.job
    print_outcome(json_output, job, job.id)


def recurring_id(app: App, ref: str) -> str:
    """The id of the recurring job whose id or name is `ref` (names are unique)."""
    rows = app.list_recurring()
    by_id = [r.id for r in rows if r.id == ref]
    by_name = [r.id for r in rows if r.name == ref]
    found = by_id or by_name
    if not found:
        raise RecurringNotFound(ref)
    return found[0]
