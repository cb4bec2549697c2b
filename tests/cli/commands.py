"""Running the `underway` command in this process (CliRunner) or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar

from typer.testing import CliRunner, Result

import underway
from underway.cli import cli

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
SRC = Path(underway.__file__).resolve().parents[1]
#: Sub-second worker timings so that tests never wait long.
FAST_WORKER = [
    "--poll-interval=0.05",
    "--heartbeat-interval=0.2",
    "--stall-timeout=2",
    "--sweep-interval=0.2",
    "--lease-check-interval=0.05",
    "--flush-interval=0.05",
]


#: Variables that choose an app or a database; tests set them only on purpose.
CHOOSING_VARIABLES = ("UNDERWAY_DATABASE_URL", "UNDERWAY_APP")


def invoke(
    *args: str,
    database_env: str | None = None,
    env: dict[str, str] | None = None,
    columns: int = 200,
) -> Result:
    """Run the CLI in this process, by default with a wide console so tables are not cut."""
    variables: dict[str, str | None] = dict.fromkeys(CHOOSING_VARIABLES)
    variables.update(UNDERWAY_DATABASE_URL=database_env, COLUMNS=str(columns), NO_COLOR="1")
    variables.update(env or {})
    return CliRunner().invoke(cli, list(args), env=variables)


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHOOSING_VARIABLES}
    env.update(PYTHONPATH=str(SRC), COLUMNS="200", NO_COLOR="1", PYTHONUNBUFFERED="1")
    return env


def run(*args: str, cwd: Path = HERE, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m underway ARGS` to completion (from this directory, like a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "underway", *args],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(*args: str, log: Path) -> subprocess.Popen[Any]:
    """Start `python -m underway ARGS` in the background, its stderr going to `log`."""
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "underway", *args],
            cwd=HERE,
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
