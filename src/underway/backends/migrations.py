"""Versioned SQL migrations: each dialect package keeps its own in `migrations/`, applied in
file-name order."""

from __future__ import annotations

from importlib import resources


def migration_scripts(dialect_package: str) -> list[tuple[str, str]]:
    """(version, sql) pairs of a dialect (`underway.backends.sqlite`, ...), sorted by version."""
    folder = resources.files(dialect_package).joinpath("migrations")
    scripts = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(scripts)
