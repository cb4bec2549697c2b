"""Shared setup for peers: a throwaway PostgreSQL database, and a Redis database to flush."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

PG_ENV = "BENCH_PG_DSN"
REDIS_ENV = "BENCH_REDIS_URL"


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def create_database(dsn: str, database: str) -> str:
    """Create a fresh database (dropping an old one of that name); return its DSN."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    return with_database(dsn, database)


def drop_database(dsn: str, database: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def pg_dsn() -> str:
    return os.environ[PG_ENV]


def redis_url() -> str:
    return os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/11")
