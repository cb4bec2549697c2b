"""`underway recurring ...`: list, add, toggle, remove and trigger recurring (cron) jobs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..models import Recurring
from ..recurring import describe_cron
from .loading import json_arguments, opened_app
from .output import console, state_text, when

RecurringId = Annotated[str, typer.Argument(metavar="ID", help="The recurring job's id.")]
Database = Annotated[
    str | None,
    typer.Option(
        "--database", envvar="UNDERWAY_DATABASE_URL", help="Database URL.", show_default=False
    ),
]
AppOption = Annotated[
    str | None, typer.Option("--app", help="Use this App (module:attribute) and its database.")
]


def register(cli: typer.Typer, group: type) -> None:
    """Attach the `recurring` command group to the main CLI."""
    commands = typer.Typer(cls=group, help="Manage recurring (cron) jobs.", no_args_is_help=True)
    commands.command("list")(list_recurring)
    commands.command()(add)
    commands.command()(toggle)
    commands.command()(remove)
    commands.command()(trigger)
    cli.add_typer(commands, name="recurring")


def list_recurring(database: Database = None, app_path: AppOption = None) -> None:
    """Every recurring job: schedule, next run, last run and its state."""
    with opened_app(app_path, database) as app:
        rows = app.list_recurring()
    console.print(_table(rows))


def _table(rows: list[Recurring]) -> Table:
    table = Table("id", "name", "job", "schedule", "enabled", "next run", "last run", "last state")
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
    app_path: Annotated[str, typer.Argument(metavar="APP", help="Your App as module:attribute.")],
    name: Annotated[str, typer.Argument(help="A unique name for the schedule.")],
    cron: Annotated[str, typer.Argument(help='Cron expression, e.g. "0 3 * * *" or @daily.')],
    job: Annotated[str, typer.Argument(help="The registered job to run.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    timezone: Annotated[str, typer.Option(help="IANA timezone of the schedule.")] = "UTC",
    overlap: Annotated[str, typer.Option(help="skip, queue or allow.")] = "skip",
    catch_up: Annotated[str, typer.Option(help="one or none.")] = "one",
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it disabled.")] = False,
    database: Database = None,
) -> None:
    """Store a recurring job and print its id."""
    arguments = json_arguments(args)
    with opened_app(app_path, database, must_exist=False) as app:
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
    console.print(recurring_id)


def toggle(
    recurring_id: RecurringId, database: Database = None, app_path: AppOption = None
) -> None:
    """Enable a disabled recurring job, or disable an enabled one."""
    with opened_app(app_path, database) as app:
        recurring = app.toggle_recurring(recurring_id)
    console.print(f"{recurring.name} is {'enabled' if recurring.enabled else 'disabled'}")


def remove(
    recurring_id: RecurringId, database: Database = None, app_path: AppOption = None
) -> None:
    """Delete a recurring job (jobs it already created stay)."""
    with opened_app(app_path, database) as app:
        app.remove_recurring(recurring_id)
    console.print(f"removed {recurring_id}")


def trigger(
    recurring_id: RecurringId,
    app_path: Annotated[str, typer.Option("--app", help="The App that defines the job.")],
    database: Database = None,
) -> None:
    """Run a recurring job now, outside its schedule; prints the new job's id."""
    with opened_app(app_path, database) as app:
        handle = app.trigger_recurring(recurring_id)
    console.print(handle.id)
