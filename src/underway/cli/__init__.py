"""The `underway` command line (Typer): commands, the worker command, recurring commands,
their output, loading the user's app, and the demo."""

from .commands import cli, main

__all__ = ["cli", "main"]
