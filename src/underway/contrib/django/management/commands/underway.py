"""`manage.py underway worker|serve|migrate|...`: the `underway` command line, acting on the
project's app (its settings, its discovered jobs)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser

from .....app.locating import APP_VARIABLE
from .....cli import cli

#: The import path of the project's app, as the `underway` command line loads an app.
PROJECT_APP = "underway.contrib.django:app"
#: Options `manage.py` reads itself, with a value; the `underway` command line knows none.
DJANGO_OPTIONS = ("--settings", "--pythonpath")


class Command(BaseCommand):
    help = (
        "Run the underway command line on this project's jobs: `worker` runs them, `serve` "
        "serves the HTTP API and dashboard (and a worker), `migrate` creates the schema. "
        "`manage.py underway --help` lists every command."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        """Hand everything after `manage.py underway` to the `underway` command line."""
        code = run_underway(without_django_options(argv[2:]), prog_name=f"{argv[0]} underway")
        raise SystemExit(code)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs="*", help="underway command and its options")

    def handle(self, *args: Any, **options: Any) -> None:
        """For `call_command("underway", "migrate")`: the same command line, in process."""
        code = run_underway(list(options.get("arguments") or args), prog_name="underway")
        if code:
            raise CommandError(f"underway exited with status {code}")


def run_underway(arguments: Sequence[str], *, prog_name: str) -> int:
    """Run the `underway` command line with the project's app; its exit status."""
    with project_app_named():
        try:
            cli(args=list(arguments), prog_name=prog_name, standalone_mode=True)
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        except click.exceptions.Exit as exit_:
            return exit_.exit_code
    return 0


@contextlib.contextmanager
def project_app_named() -> Iterator[None]:
    """UNDERWAY_APP names the project's app while the command line runs."""
    before = os.environ.get(APP_VARIABLE)
    os.environ[APP_VARIABLE] = PROJECT_APP
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(APP_VARIABLE, None)
        else:
            os.environ[APP_VARIABLE] = before


def without_django_options(arguments: Sequence[str]) -> list[str]:
    """The arguments without manage.py's own `--settings` and `--pythonpath`."""
    kept: list[str] = []
    skip_value = False
    for argument in arguments:
        if skip_value:
            skip_value = False
        elif argument in DJANGO_OPTIONS:
            skip_value = True
        elif not argument.startswith(tuple(f"{option}=" for option in DJANGO_OPTIONS)):
            kept.append(argument)
    return kept
