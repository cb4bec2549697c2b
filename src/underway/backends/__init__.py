"""Storage backends: the protocol (`base`), and one package per SQL dialect, `sqlite` and
`postgres`, with the same module names, and `memory` (SQLite in RAM, for one process).
`open_backend` picks one from a database URL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError, DatabaseConfigurationError
from .base import Backend, Clock, SystemClock
from .memory import is_memory_url, pinned_url

__all__ = ["Backend", "Clock", "SystemClock", "open_backend", "pinned_url", "safe_url"]


def open_backend(
    url: str,
    clock: Clock | None = None,
    *,
    migrate: bool = True,
    lean: bool = False,
    create: bool = True,
) -> Backend:
    """Create the backend for a database URL (sqlite:///path, postgresql://..., memory://).

    A `lean` backend keeps one connection and listens to no notifications (for heartbeats).
    Unless `create`, a SQLite file that does not exist is an error when the backend opens,
    not a new empty database (PostgreSQL never creates the database itself). A memory
    database is new in its process and migrated as it first opens, whatever `create` and
    `migrate` say; a memory URL pinned in another process is an error at once.
    """
    if is_memory_url(url):
        from .memory.backend import MemoryBackend

        return MemoryBackend(url, clock=clock or SystemClock())
    if url.startswith("sqlite:"):
        from .sqlite import SQLiteBackend

        return SQLiteBackend(url, clock=clock or SystemClock(), migrate=migrate, create=create)
    if url.startswith(("postgresql:", "postgres:")):
        try:
            from .postgres import PostgresBackend
        except ImportError as exc:
            raise ConfigurationError(
                "PostgreSQL needs the postgres extra: pip install 'underway[postgres]'"
            ) from exc
        if lean:
            return PostgresBackend(url, migrate=migrate, max_connections=1, listen=False)
        return PostgresBackend(url, migrate=migrate)
    raise DatabaseConfigurationError(
        f"unsupported database URL {safe_url(url)!r}: use sqlite:///path/to/file.db, "
        "postgresql://user@host/dbname or memory://"
    )


def safe_url(url: str) -> str:
    """A database URL fit for a log line: its password, if any, hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
