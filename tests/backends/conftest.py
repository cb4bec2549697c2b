"""Fixtures of the backend conformance suite: every test runs on SQLite, on PostgreSQL and on
the memory backend.

SQLite gets a fresh file in tmp_path; PostgreSQL gets a fresh schema, dropped afterwards;
memory a database of its own name, gone when the test's last backend on it closes.
PostgreSQL tests fail (never skip) when the server cannot be reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from underway.backends.base import Backend, SystemClock
from underway.backends.memory.backend import MemoryBackend
from underway.backends.postgres import PostgresBackend
from underway.backends.sqlite import SQLiteBackend


def make_backend(url: str, *, migrate: bool = True) -> Backend:
    """A backend for a test URL (not opened)."""
    if url.startswith("sqlite:"):
        return SQLiteBackend(url, clock=SystemClock(), migrate=migrate)
    if url.startswith("memory:"):
        return MemoryBackend(url, clock=SystemClock())
    return PostgresBackend(url, migrate=migrate)


@pytest.fixture
async def backend(backend_url: str) -> AsyncIterator[Backend]:
    opened = make_backend(backend_url)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def other_backend(backend_url: str, backend: Backend) -> AsyncIterator[Backend]:
    """A second backend on the same database, as another process would have."""
    opened = make_backend(backend_url, migrate=False)
    await opened.open()
    yield opened
    await opened.close()
