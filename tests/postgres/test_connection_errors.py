"""A PostgreSQL URL that cannot work fails at once with the server's words and the fix; a
server that cannot be reached for now stays a StorageUnavailable that callers retry."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import POSTGRES_URL
from underway import App
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.connection import BlockingPool, parse_postgres_url
from underway.errors import DatabaseConfigurationError, StorageUnavailable

#: A permanent error is reported as soon as the first attempt fails, not after the 5 s timeout.
AT_ONCE_S = 1.5
ROOT = Path(__file__).resolve().parents[2]


def with_url(**changes: str) -> str:
    """The test server's URL with its database (`path`) or user and host (`netloc`) changed."""
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(**changes))


def unknown_database() -> tuple[str, str]:
    name = f"no_such_db_{uuid.uuid4().hex[:8]}"
    return name, with_url(path=f"/{name}")


async def open_error(url: str, *, timeout_s: float = 5.0) -> tuple[Exception, float]:
    """The error opening a backend on `url` raises, and how long it took to come."""
    backend = PostgresBackend(url, connect_timeout_s=timeout_s)
    began = time.monotonic()
    with pytest.raises((DatabaseConfigurationError, StorageUnavailable)) as raised:
        await backend.open()
    return raised.value, time.monotonic() - began


async def test_an_unknown_database_fails_at_once_with_the_fix() -> None:
    name, url = unknown_database()

    error, took_s = await open_error(url)

    assert isinstance(error, DatabaseConfigurationError)
    assert str(error) == (
        f'database "{name}" does not exist: create it (createdb {name}) or fix the URL'
    )
    assert took_s < AT_ONCE_S


async def test_an_unknown_role_fails_at_once_with_the_fix() -> None:
    parts = urlsplit(POSTGRES_URL)
    url = with_url(netloc=f"no_such_role@{parts.hostname}:{parts.port or 5432}")

    error, took_s = await open_error(url)

    assert isinstance(error, DatabaseConfigurationError)
    assert str(error).startswith('role "no_such_role" does not exist: create it')
    assert took_s < AT_ONCE_S


async def test_an_unknown_host_fails_at_once_with_the_fix() -> None:
    error, took_s = await open_error(with_url(netloc="postgres@nonexistent.invalid:5432"))

    assert isinstance(error, DatabaseConfigurationError)
    assert "cannot resolve the host name 'nonexistent.invalid'" in str(error)
    assert "fix the host in the URL" in str(error)
    assert took_s < AT_ONCE_S


async def test_a_malformed_url_fails_at_once() -> None:
    error, took_s = await open_error(f"{POSTGRES_URL}?no_such_option=1")

    assert isinstance(error, DatabaseConfigurationError)
    assert "invalid PostgreSQL URL" in str(error)
    assert "no_such_option" in str(error)
    assert took_s < AT_ONCE_S


async def test_a_closed_port_stays_transient_and_says_why() -> None:
    error, _ = await open_error(with_url(netloc="postgres@127.0.0.1:1"), timeout_s=0.5)

    assert isinstance(error, StorageUnavailable)
    assert "cannot connect to PostgreSQL within 0.5 s" in str(error)
    assert "Connection refused" in str(error)


def test_the_blocking_pool_fails_at_once_on_an_unknown_database() -> None:
    name, url = unknown_database()
    pool = BlockingPool(parse_postgres_url(url), max_size=1, timeout_s=5.0)
    began = time.monotonic()

    with pytest.raises(DatabaseConfigurationError, match=f'database "{name}" does not exist'):
        pool.statement(lambda tx: tx.rows("SELECT 1"))

    assert time.monotonic() - began < AT_ONCE_S


def test_an_app_on_an_unknown_database_raises_it_on_first_use() -> None:
    name, url = unknown_database()
    app = App(url)
    try:
        with pytest.raises(DatabaseConfigurationError, match=f"createdb {name}"):
            app.stats()
    finally:
        app.close()


def test_starting_a_worker_on_an_unknown_database_raises_at_once() -> None:
    # `underway worker` retries StorageUnavailable only: this error ends it.
    name, url = unknown_database()
    app = App(url)
    began = time.monotonic()
    try:
        with pytest.raises(DatabaseConfigurationError, match=f"createdb {name}"):
            app.start_worker()
    finally:
        app.close()
    assert time.monotonic() - began < AT_ONCE_S


def test_a_worker_on_an_unknown_database_exits_at_once_with_one_error_line() -> None:
    name, url = unknown_database()
    began = time.monotonic()

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "underway",
            "worker",
            *("--app", "tests.cli.sample_jobs:app"),
            *("--database", url),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f'error: database "{name}" does not exist: create it (createdb {name}) or fix the URL'
    ]
    assert time.monotonic() - began < 10  # the interpreter's start, then no retries
