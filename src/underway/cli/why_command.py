"""`underway why ID`: what holds a waiting job, one line per hold."""

from __future__ import annotations

import typer

from .common_options import AppOption, DatabaseOption, JsonOption
from .job_commands import JobId
from .output import console, print_json
from .reporting import UnderwayCommand
from .which_database import choose, opened


def register(cli: typer.Typer) -> None:
    """Attach `why` to the main CLI."""
    cli.command(cls=UnderwayCommand)(why)


def why(
    job_id: JobId,
    app_path: AppOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Say why a job is not running: every hold on it (a paused queue, a full limit, no live
    worker...), most fundamental first, or what it does instead of waiting."""
    with opened(choose(app_path, database)) as app:
        explanation = app.explain(job_id)
    if json_output:
        print_json(explanation)
        return
    for reason in explanation.reasons:
        # Keys and ids are the user's text: never Rich markup.
        console.print(reason.message, markup=False, soft_wrap=True)
