"""The classes every command runs in: each failure becomes one line `error: what (fix)` on
stderr (one JSON document with --json) and an exit status, never a traceback; and --help
shows no value type for flags, which take none."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from ..errors import (
    JobNotFound,
    QueueNotFound,
    RecurringNotFound,
    UnderwayError,
    WorkflowNotFound,
)
from .output import print_error

#: The exit status of a command line that cannot be parsed (click's, and getopt's, convention).
USAGE_ERROR = 2
#: The exit status of every other error: bad input, configuration, the database, a lookup.
ERROR = 1
HINTS: dict[type[Exception], str] = {
    JobNotFound: "see `underway list`",
    RecurringNotFound: "see `underway recurring list`",
    QueueNotFound: "see `underway queues`",
    WorkflowNotFound: "see `underway workflows`",
}
APP_PATH = re.compile(r"^[\w.]+:[\w.]+$")


class UnderwayGroup(TyperGroup):
    """The `underway` command group: parses, runs, and reports what went wrong."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            # Not standalone: errors come back here instead of Typer's boxed messages.
            status = super().main(
                argv,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except typer.TyperException as exc:
            status = report_usage_error(exc, argv)
        except (UnderwayError, sqlite3.Error) as exc:
            status = report_error(exc, argv)
        except typer.Abort:
            status = report_error(UnderwayError("aborted"), argv)
        if not standalone_mode:
            return status
        sys.exit(status if isinstance(status, int) else 0)

    def get_params(self, ctx: Any) -> list[Any]:
        return untyped_flags(super().get_params(ctx))


class UnderwayCommand(TyperCommand):
    """One `underway` command; --help shows its flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return untyped_flags(super().get_params(ctx))


def untyped_flags(params: list[Any]) -> list[Any]:
    """Typer's rich help prints a type (`<bool>`) beside every option, flags included; an
    empty metavar leaves the column blank for flags, which take no value."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asked for JSON (options end at `--`)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in options


def report_error(exc: Exception, argv: Sequence[str]) -> int:
    """One line (or JSON document) on stderr for an error the command raised."""
    message = f"database error: {exc}" if isinstance(exc, sqlite3.Error) else str(exc)
    hint = next((h for kind, h in HINTS.items() if isinstance(exc, kind)), None)
    emit_error(type(exc).__name__, message, hint, argv)
    return ERROR


def report_usage_error(exc: typer.TyperException, argv: Sequence[str]) -> int:
    """Click's message for a command line it could not parse, as one line with the fix."""
    status = int(getattr(exc, "exit_code", USAGE_ERROR))
    if type(exc).__name__ == "NoArgsIsHelpError":
        return status  # the help was shown already
    message = exc.format_message().strip().removesuffix(".")
    message = message[:1].lower() + message[1:]
    emit_error("UsageError", message, usage_hint(exc, message, argv), argv)
    return status


def usage_hint(exc: typer.TyperException, message: str, argv: Sequence[str]) -> str | None:
    app_path = next((arg for arg in argv if APP_PATH.match(arg)), None)
    if "unexpected extra argument" in message and app_path is not None:
        return f"pass the app as an option: --app {app_path}"
    ctx = getattr(exc, "ctx", None)
    return None if ctx is None else f"see `{ctx.command_path} --help`"


def emit_error(kind: str, message: str, hint: str | None, argv: Sequence[str]) -> None:
    line = " ".join(message.split())
    if wants_json(argv):
        error = {"type": kind, "message": line, "hint": hint}
        sys.stderr.write(json.dumps({"error": error}, ensure_ascii=False) + "\n")
        return
    print_error(f"{line} ({hint})" if hint else line)
