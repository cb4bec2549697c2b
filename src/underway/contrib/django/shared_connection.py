"""Django's own psycopg 3 connection, when a job can be stored in its open transaction: the
alias is the PostgreSQL database the project's jobs live in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import connections

from .project_app import app as project_app
from .project_app import underway_settings

JSON_TYPES = ("json", "jsonb")


def shared_connection(app: Any, using: str) -> Any | None:
    """The psycopg 3 connection of alias `using` if a job of `app` may be stored through
    it (the project's app, on PostgreSQL, in that very database); else None."""
    configured = underway_settings()
    if app is not project_app or configured.alias != using or not configured.is_postgres:
        return None
    try:
        import psycopg
    except ImportError:  # Django on psycopg2: the job is stored at commit instead
        return None
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    return raw if isinstance(raw, psycopg.Connection) else None


@contextlib.contextmanager
def underway_json(raw: Any) -> Iterator[None]:
    """JSON columns read as data on Django's connection while underway uses it (Django
    reads them as text), then as Django reads them again."""
    from psycopg.pq import Format

    from ...backends.postgres.connection import read_json_fast

    adapters = raw.adapters
    saved = [
        (name, loader)
        for name in JSON_TYPES
        for fmt in (Format.TEXT, Format.BINARY)
        if (loader := adapters.get_loader(adapters.types[name].oid, fmt)) is not None
    ]
    read_json_fast(raw)
    try:
        yield
    finally:
        for name, loader in saved:
            adapters.register_loader(name, loader)
