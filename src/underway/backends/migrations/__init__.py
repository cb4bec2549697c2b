"""Versioned SQL migrations, one folder per backend, applied in file-name order."""

from __future__ import annotations

from importlib import resources


def migration_scripts(backend: str) -> list[tuple[str, str]]:
    """(version, sql) pairs for a backend, sorted by version."""
    folder = resources.files(__package__).joinpath(backend)
    scripts = [
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(scripts)
