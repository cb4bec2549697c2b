"""The options most commands share, typed once: which app and database, --json, --create."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

AppOption = Annotated[
    str | None,
    typer.Option(
        "--app",
        "-a",
        metavar="MODULE:ATTR",
        # "\\[" keeps Rich's help from taking [tool.underway] for markup.
        help="Your App, e.g. myproject.jobs:app, and so its database. Default: UNDERWAY_APP, "
        'else app = "..." under \\[tool.underway] in ./pyproject.toml.',
        show_default=False,
    ),
]
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        help="Database URL, in place of the app's. Default: the app's, else "
        "UNDERWAY_DATABASE_URL, else sqlite:///underway.db.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout; errors as JSON on stderr."),
]
CreateOption = Annotated[
    bool,
    typer.Option("--create", help="Create the SQLite file if it does not exist yet."),
]


class LogFormat(enum.StrEnum):
    """How log lines look on stderr."""

    TEXT = "text"
    JSON = "json"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="text: timestamped lines; json: one JSON object per line.",
        case_sensitive=False,
    ),
]
