"""`python -m underway` runs the CLI."""

from .cli import main

main()
