"""Migration 0016 moves the live starts of a database in use, one row per start, to one row
per key, soonest first; spent ones are left behind, and the limits hold across it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from tests.conftest import POSTGRES_URL
from tests.migrations_before import postgres_before
from underway.backends.postgres import PostgresBackend

from ..backends.support import WORKER, new_job

BEFORE = "0016_rate_starts_per_key"


async def test_live_starts_move_to_their_key_sorted_and_spent_ones_are_dropped(
    pg_schema: str, pg_url: str
) -> None:
    postgres_before(pg_schema, BEFORE)
    now = datetime.now(UTC)
    starts = [
        ("job:send:a", now + timedelta(seconds=50)),
        ("job:send:a", now - timedelta(seconds=5)),
        ("job:send:a", now + timedelta(seconds=20)),
        ("job:send:b", now - timedelta(seconds=1)),
    ]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.cursor().executemany(
            f'INSERT INTO "{pg_schema}".rate_starts (key, expires_at) VALUES (%s, %s)', starts
        )
    backend = PostgresBackend(pg_url)
    await backend.open()
    try:
        with psycopg.connect(POSTGRES_URL) as conn:
            rows = conn.execute(f'SELECT key, starts FROM "{pg_schema}".rate_keys').fetchall()
        assert [(key, [at.timestamp() for at in at_times]) for key, at_times in rows] == [
            ("job:send:a", [starts[2][1].timestamp(), starts[0][1].timestamp()])
        ]
        # Two live starts under a limit of 2: the key's jobs wait until one expires.
        job = new_job(rate_key="job:send:a", rate_limit=2, rate_window_s=60.0)
        await backend.enqueue_many([job])
        assert await backend.claim(WORKER, ["default"], 5) == []
    finally:
        await backend.close()
