"""PostgreSQL outages longer than the pool's reconnect window: service resumes at once after."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.backends.support import new_job
from tests.waiting import eventually
from underway.backends.postgres import PostgresBackend
from underway.errors import StorageUnavailable

from .private_postgres import private_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]
OUTAGE_S = 8.0


async def test_backend_recovers_promptly_after_a_long_outage() -> None:
    with private_postgres() as server:
        backend = PostgresBackend(f"{server.url}?schema=outage")
        await backend.open()
        try:
            await eventually(lambda: asyncio.sleep(0, backend.listening))
            server.stop("fast")
            deadline = time.monotonic() + OUTAGE_S
            while time.monotonic() < deadline:
                with pytest.raises(StorageUnavailable):
                    await backend.enqueue(new_job())
            assert not backend.listening
            server.start()

            async def enqueued() -> bool:
                try:
                    await backend.enqueue(new_job())
                except StorageUnavailable:
                    return False
                return True

            await eventually(enqueued, timeout=3.0)
            await eventually(lambda: asyncio.sleep(0, backend.listening), timeout=3.0)
        finally:
            await backend.close()
