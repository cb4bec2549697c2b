"""The PostgreSQL connection pool: URL parsing, transactions, errors as StorageUnavailable
(or, for a URL that cannot work, DatabaseConfigurationError at once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from ...errors import DatabaseConfigurationError, StorageUnavailable
from ...log_throttling import ThrottlingFilter
from ..codecs import json_text_to_data
from .open_errors import ConnectFailures, permanent_connect_error, server_words
from .tx import AsyncTx, SyncTx, Tx


def _not_raised_instead(record: logging.LogRecord) -> bool:
    """Drop psycopg_pool's warning about an attempt that failed for good (a wrong URL): that
    error reaches the caller, whose report says it once, with the fix."""
    args = record.args if isinstance(record.args, tuple) else ()
    return not any(
        isinstance(arg, Exception) and permanent_connect_error(arg) is not None for arg in args
    )


# psycopg_pool warns on every reconnect attempt; during an outage that is a line per second.
logging.getLogger("psycopg.pool").addFilter(_not_raised_instead)
logging.getLogger("psycopg.pool").addFilter(ThrottlingFilter())

T = TypeVar("T")
DEFAULT_SCHEMA = "underway"
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
#: Deadlocks and serialization failures are retried this many times before giving up.
TRANSIENT_RETRIES = 5
RECONNECT_GIVE_UP_S = 5.0
#: A pooled connection that finished a transaction this recently is not checked again.
RECENTLY_USED_S = 1.0
#: How often opening a pool looks whether its connections failed for good meanwhile.
FAILURE_POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """Where to connect (libpq URL without underway's own parameters) and which schema to use."""

    conninfo: str
    schema: str


def parse_postgres_url(url: str) -> PostgresTarget:
    """Split `?schema=name` off a postgresql:// URL; the rest goes to libpq unchanged."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not SCHEMA_NAME.match(schema):
        raise DatabaseConfigurationError(
            f"invalid schema name {schema!r} in the database URL: use letters, digits and _"
        )
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return PostgresTarget(urlunsplit(parts._replace(query=rest)), schema)


def connection_settings(role: str) -> dict[str, Any]:
    """Session settings of every underway connection: a name operators can target, UTC times,
    and generic plans for prepared statements.

    underway's repeated statements (claim, finish, enqueue, heartbeat, lookups by key) have one
    right plan whatever their parameters; left to choose, PostgreSQL kept re-planning the
    claim for every call, a good part of the claim's time. Reads whose plan depends on the values
    (job lists by state or name) pass `planned=True` and are planned afresh each time. The
    others are prepared as they are first sent, not after psycopg's default of five runs,
    each of which PostgreSQL planned for its values: a worker's first claims cost it several
    milliseconds each, a new connection's first claims again.
    """
    return {
        "prepare_threshold": 0,
        "application_name": f"underway:{role}:{os.getpid()}",
        "options": "-c TimeZone=UTC -c lock_timeout=10s -c plan_cache_mode=force_generic_plan",
    }


def read_json_fast(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Load json and jsonb columns on `conn` with pydantic-core's parser (several times
    faster than the stdlib's, which psycopg uses by default)."""
    set_json_loads(json_text_to_data, conn)


async def _read_json_fast_async(conn: psycopg.AsyncConnection[Any]) -> None:
    read_json_fast(conn)


def channel_name(schema: str, channel: str) -> str:
    """The NOTIFY channel of one underway channel; schemas beside each other do not mix."""
    return f"{schema}.{channel}"


class RecentUse:
    """When each pooled connection last finished its work, so that the pool's liveness check
    can be skipped for one used a moment ago.

    Checking costs a round trip per transaction; a connection used in the last second is
    almost surely alive, and if it is not, the transaction fails as StorageUnavailable.
    """

    def __init__(self) -> None:
        self._last_used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def touch(self, conn: Any) -> None:
        self._last_used[conn] = time.monotonic()

    def is_recent(self, conn: Any) -> bool:
        return time.monotonic() - self._last_used.get(conn, 0.0) < RECENTLY_USED_S


class PostgresPool:
    """An async connection pool that runs whole transactions and reconnects after failures."""

    def __init__(self, target: PostgresTarget, *, min_size: int, max_size: int, timeout_s: float):
        self.target = target
        self._timeout_s = timeout_s
        self._recent = RecentUse()
        self._failures = ConnectFailures()
        self._pool = AsyncConnectionPool(
            target.conninfo,
            connection_class=self._failures.async_connection_class(),
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, **connection_settings("pool")},
            configure=_read_json_fast_async,
            check=self._check_unless_recently_used,
            timeout=timeout_s,
            # Give up on a dead slot soon: the next request then dials at once, instead of
            # waiting out the pool's doubling backoff (a long outage would delay recovery).
            reconnect_timeout=RECONNECT_GIVE_UP_S,
            open=False,
            name="underway",
        )

    async def _check_unless_recently_used(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """The pool's liveness check, skipped for a connection that just finished a transaction."""
        if not self._recent.is_recent(conn):
            await AsyncConnectionPool.check_connection(conn)

    async def open(self) -> None:
        """Open the pool and wait for its first connection; a URL that cannot work raises
        DatabaseConfigurationError as soon as an attempt says so, not after the timeout."""
        await self._pool.open(wait=False)
        try:
            await self._wait_ready()
        except BaseException:
            await self._pool.close()
            raise

    async def _wait_ready(self) -> None:
        ready = asyncio.ensure_future(self._pool.wait(timeout=self._timeout_s))
        try:
            while not ready.done():
                await asyncio.wait({ready}, timeout=FAILURE_POLL_S)
                if self._failures.for_good is not None and not ready.done():
                    raise self._failures.for_good
            ready.result()
        except PoolTimeout as exc:
            raise self._failures.timed_out(self._timeout_s) from self._failures.last or exc
        finally:
            ready.cancel()

    async def close(self) -> None:
        await self._pool.close()

    async def transaction(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `fn` in one transaction, retrying deadlocks; outages raise StorageUnavailable."""
        return await self._run(fn, block=True)

    async def pipelined(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """`transaction`, its statements sent in a pipeline: `Tx.batch` sends several (and
        the BEGIN before them) in one round trip."""
        return await self._run(fn, block=True, pipeline=True)

    async def statement(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `fn`, whose one statement commits on its own: no BEGIN and COMMIT round trips."""
        return await self._run(fn, block=False)

    async def _run(
        self, fn: Callable[[Tx], Awaitable[T]], *, block: bool, pipeline: bool = False
    ) -> T:
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return await self._transaction_once(fn, block, pipeline)
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
                if attempt == TRANSIENT_RETRIES:
                    raise StorageUnavailable(f"PostgreSQL transaction kept failing: {exc}") from exc
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _transaction_once(
        self, fn: Callable[[Tx], Awaitable[T]], block: bool, pipeline: bool
    ) -> T:
        with _storage_errors(self.target.schema, self._failures):
            async with self._pool.connection() as conn:
                async with (
                    conn.pipeline() if pipeline else contextlib.nullcontext(),
                    conn.transaction() if block else contextlib.nullcontext(),
                ):
                    result = await fn(AsyncTx(conn, self.target.schema))
                self._recent.touch(conn)
                return result


class BlockingPool:
    """Blocking connections for callers on their own threads (the sync `app.enqueue`), so
    that one statement needs no hop to the event loop. Opened on first use."""

    def __init__(self, target: PostgresTarget, *, max_size: int, timeout_s: float) -> None:
        self.target = target
        self._timeout_s = timeout_s
        self._recent = RecentUse()
        self._failures = ConnectFailures()
        self._opening = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._max_size = max_size

    def _check_unless_recently_used(self, conn: psycopg.Connection[Any]) -> None:
        if not self._recent.is_recent(conn):
            ConnectionPool.check_connection(conn)

    def _opened(self) -> ConnectionPool[Any]:
        with self._opening:
            if self._pool is None:
                pool: ConnectionPool[Any] = ConnectionPool(
                    self.target.conninfo,
                    connection_class=self._failures.connection_class(),
                    min_size=1,
                    max_size=self._max_size,
                    kwargs={"autocommit": True, **connection_settings("producer")},
                    configure=read_json_fast,
                    check=self._check_unless_recently_used,
                    timeout=self._timeout_s,
                    reconnect_timeout=RECONNECT_GIVE_UP_S,
                    open=False,
                    name="underway-blocking",
                )
                pool.open(wait=False)
                try:
                    self._wait_ready(pool)
                except BaseException:
                    pool.close()
                    raise
                self._pool = pool
            return self._pool

    def _wait_ready(self, pool: ConnectionPool[Any]) -> None:
        """Wait for the pool's first connection, as `PostgresPool.open` does."""
        deadline = time.monotonic() + self._timeout_s
        while pool.get_stats()["pool_available"] < 1:
            if self._failures.for_good is not None:
                raise self._failures.for_good
            if time.monotonic() >= deadline:
                raise self._failures.timed_out(self._timeout_s) from self._failures.last
            time.sleep(FAILURE_POLL_S)

    def statement(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `fn`, whose one statement commits on its own, on a blocking connection.

        `fn` is written for either kind of transaction; on a blocking one it never suspends,
        so it is driven to its end here, in the caller's thread.
        """
        with _storage_errors(self.target.schema, self._failures):
            pool = self._opened()
            with pool.connection() as conn:
                result = run_without_loop(fn(SyncTx(conn, self.target.schema)))
                self._recent.touch(conn)
                return result

    def close(self) -> None:
        with self._opening:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    async def close_async(self) -> None:
        """`close` from the event loop, in a thread; here if the interpreter is exiting and
        takes no new threads (an app closed at exit)."""
        try:
            await asyncio.to_thread(self.close)
        except RuntimeError:
            self.close()


def run_without_loop(step: Awaitable[T]) -> T:
    """The value of a coroutine that never suspends (its statements run on a blocking
    connection), without an event loop."""
    coroutine = step.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a statement on a blocking connection suspended")


@contextlib.contextmanager
def _storage_errors(schema: str, failures: ConnectFailures) -> Iterator[None]:
    """Connection failures as StorageUnavailable, missing tables as DatabaseConfigurationError."""
    try:
        yield
    except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
        raise
    except (pg_errors.UndefinedTable, pg_errors.InvalidSchemaName) as exc:
        raise DatabaseConfigurationError(
            f"underway's tables are missing from schema {schema!r}: run "
            "`underway migrate`, or open the app with migrate=True"
        ) from exc
    except PoolTimeout as exc:
        # No connection came free or could be made: say why the last attempt failed.
        last = failures.last
        cause = f": {server_words(last, where=True)}" if last is not None else ""
        raise StorageUnavailable(f"PostgreSQL is unavailable: {exc}{cause}") from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # Includes killed sessions, restarts and lock_timeout.
        raise StorageUnavailable(f"PostgreSQL is unavailable: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
