"""Rows of the flow-control tables written with each dialect's own SQL, for tests that need a
paused or limited queue, or rate starts, whatever backend calls exist to make them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg

from underway.backends.base import Backend
from underway.backends.claiming import RateStart
from underway.backends.memory.backend import MemoryBackend
from underway.backends.postgres import PostgresBackend
from underway.backends.sqlite import SQLiteBackend, rate_starts

QUEUE_COLUMNS = (
    "name",
    "paused",
    "paused_at",
    "paused_by",
    "concurrency",
    "rate_limit",
    "rate_window_s",
    "rate_fixed",
)


def write_queue(
    backend: Backend,
    name: str,
    *,
    paused: bool = False,
    paused_at: datetime | None = None,
    paused_by: str | None = None,
    concurrency: int | None = None,
    rate_limit: int | None = None,
    rate_window_s: float | None = None,
    rate_fixed: bool = False,
) -> None:
    """Store (or replace) the row of queue `name`."""
    values = [name, paused, paused_at, paused_by, concurrency, rate_limit, rate_window_s]
    values.append(rate_fixed)
    columns = ", ".join(QUEUE_COLUMNS)
    if isinstance(backend, PostgresBackend):
        marks = ", ".join(["%s"] * len(QUEUE_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in QUEUE_COLUMNS[1:])
        _on_postgres(
            backend,
            f"INSERT INTO {{schema}}.queues ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (name) DO UPDATE SET {updates}",
            [tuple(values)],
        )
    else:
        epoch = None if paused_at is None else paused_at.timestamp()
        row = (name, int(paused), epoch, paused_by, concurrency, rate_limit, rate_window_s)
        marks = ", ".join(["?"] * len(QUEUE_COLUMNS))
        _on_sqlite(
            backend,
            f"INSERT OR REPLACE INTO underway_queues ({columns}) VALUES ({marks})",
            [(*row, int(rate_fixed))],
        )


def add_rate_starts(backend: Backend, key: str, expires_at: Sequence[datetime]) -> None:
    """Record one start under `key` per expiry time."""
    if isinstance(backend, PostgresBackend):
        statement = """
            INSERT INTO {schema}.rate_keys AS k (key, starts) VALUES (%s, ARRAY[%s])
            ON CONFLICT (key) DO UPDATE
            SET starts = ARRAY(SELECT e FROM unnest(k.starts || excluded.starts) AS e ORDER BY e)"""
        _on_postgres(backend, statement, [(key, at) for at in expires_at])
    else:
        with sqlite_connection(backend) as conn, conn:
            for at in sorted(expires_at):
                rate_starts.record(conn, [RateStart(key, at.timestamp())])


def count_rate_starts(backend: Backend) -> int:
    """How many rate starts the database holds, spent or not."""
    if isinstance(backend, PostgresBackend):
        return _count(backend, "{schema}.rate_keys, unnest(starts)", "", "true")
    with sqlite_connection(backend) as conn:
        row = conn.execute("SELECT coalesce(sum(starts), 0) FROM underway_rate_log").fetchone()
    return int(row[0])


def count_parked(backend: Backend) -> int:
    """How many jobs are parked until their rate key may start again."""
    return _count(backend, "{schema}.jobs", "underway_jobs", "held_until IS NOT NULL")


def parked_until(backend: Backend) -> dict[str, float]:
    """Each parked job's id, and until when (epoch seconds) it is parked."""
    rows = _rows(
        backend,
        "SELECT id::text, extract(epoch FROM held_until)::float8 FROM {schema}.jobs "
        "WHERE held_until IS NOT NULL",
        "SELECT id, held_until FROM underway_jobs WHERE held_until IS NOT NULL",
    )
    return {job_id: float(until) for job_id, until in rows}


def _count(backend: Backend, pg_table: str, sqlite_table: str, where: str) -> int:
    pg_sql = f"SELECT count(*) FROM {pg_table} WHERE {where}"
    [(count,)] = _rows(backend, pg_sql, f"SELECT count(*) FROM {sqlite_table} WHERE {where}")
    return int(count)


def _rows(backend: Backend, pg_sql: str, sqlite_sql: str) -> list[tuple[Any, ...]]:
    """The rows of a read in the backend's dialect ({schema}: PostgreSQL's schema)."""
    if isinstance(backend, PostgresBackend):
        with psycopg.connect(backend.target.conninfo, autocommit=True) as conn:
            return conn.execute(pg_sql.replace("{schema}", f'"{backend.schema}"')).fetchall()
    with sqlite_connection(backend) as conn:
        return conn.execute(sqlite_sql).fetchall()


def _on_postgres(backend: PostgresBackend, statement: str, rows: list[tuple[Any, ...]]) -> None:
    with psycopg.connect(backend.target.conninfo, autocommit=True) as conn:
        conn.cursor().executemany(statement.replace("{schema}", f'"{backend.schema}"'), rows)


def _on_sqlite(backend: Backend, statement: str, rows: list[tuple[Any, ...]]) -> None:
    with sqlite_connection(backend) as conn, conn:
        conn.executemany(statement, rows)


@contextmanager
def sqlite_connection(backend: Backend) -> Iterator[sqlite3.Connection]:
    """A connection of its own to the SQLite backend's file, closed after use, or the memory
    backend's one connection, held meanwhile (`with conn` inside it commits)."""
    if isinstance(backend, MemoryBackend):
        with backend.raw_connection() as conn:
            yield conn
        return
    assert isinstance(backend, SQLiteBackend)
    conn = sqlite3.connect(backend.path, timeout=10)
    try:
        yield conn
    finally:
        conn.close()
