"""What the PostgreSQL-only tests share: an opened backend on the test's own schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from underway.backends.postgres import PostgresBackend


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresBackend]:
    backend = PostgresBackend(pg_url)
    await backend.open()
    yield backend
    await backend.close()
