"""Why a PostgreSQL connection could not be made, and whether waiting can help.

A wrong URL (no such database, role or host; refused credentials) fails the same way on every
attempt, so it is a `DatabaseConfigurationError` raised at once with the server's own words
and the fix. Anything else (refused or timed-out connections, a server starting up or out of
connection slots) may pass, so it stays `StorageUnavailable` and callers retry.

libpq reports a failed connection as text, without a SQLSTATE, so the server's messages are
matched as libpq and PostgreSQL word them in English; a message in another language is taken
as transient, the old behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Self

import psycopg

from ...errors import DatabaseConfigurationError, StorageUnavailable

#: SQLSTATE classes and codes that no retry can change (when the error carries one).
PERMANENT_SQLSTATES = {
    "3D000": "create the database or fix its name in the URL",  # invalid_catalog_name
    "28000": "fix the user in the URL or the server's pg_hba.conf",  # invalid_authorization
    "28P01": "fix the password in the URL, PGPASSWORD or ~/.pgpass",  # invalid_password
    "42501": "grant the user CONNECT on the database, or fix the URL",  # insufficient_privilege
}

Fix = Callable[[re.Match[str]], str]

#: The server's or libpq's words for a connection that no retry can make, and the fix.
PERMANENT_MESSAGES: list[tuple[re.Pattern[str], Fix]] = [
    (
        re.compile(r'database "(?P<name>[^"]+)" does not exist'),
        lambda m: f"create it (createdb {m['name']}) or fix the URL",
    ),
    (
        re.compile(r'role "(?P<name>[^"]+)" does not exist'),
        lambda m: f"create it (createuser {m['name']}) or fix the user in the URL",
    ),
    (
        re.compile(r"password authentication failed for user"),
        lambda m: "fix the password in the URL (or in PGPASSWORD or ~/.pgpass)",
    ),
    (
        re.compile(r"\w+ authentication failed for user"),
        lambda m: "fix the user or its credentials in the URL, or the server's pg_hba.conf",
    ),
    (
        re.compile(r"no password supplied"),
        lambda m: (
            "put the password in the URL (postgresql://user:password@host/db), "
            "PGPASSWORD or ~/.pgpass"
        ),
    ),
    (
        re.compile(r"no pg_hba\.conf entry for"),
        lambda m: "allow this client in the server's pg_hba.conf, or fix the URL",
    ),
    (
        re.compile(r"permission denied for database"),
        lambda m: "grant the user CONNECT on the database, or fix the URL",
    ),
    (
        re.compile(r"server does not support SSL, but SSL was required"),
        lambda m: "change sslmode in the URL, or enable SSL on the server",
    ),
]

#: Host name lookups: libpq's wording, and psycopg's (which resolves names itself).
UNRESOLVED_HOST = re.compile(
    r"could not translate host name \"(?P<quoted>[^\"]+)\" to address"
    r"|failed to resolve host '(?P<host>[^']+)'"
)
#: A lookup that may work on the next try (EAI_AGAIN: the resolver is down or slow).
TEMPORARY_LOOKUP = re.compile(r"Temporary failure in name resolution|\[Errno -3\]")


def connect_error(exc: BaseException) -> DatabaseConfigurationError | StorageUnavailable:
    """`exc`, met while connecting, as the error to raise: permanent or worth a retry."""
    permanent = permanent_connect_error(exc)
    if permanent is not None:
        return permanent
    return StorageUnavailable(f"cannot connect to PostgreSQL: {server_words(exc, where=True)}")


def permanent_connect_error(exc: BaseException) -> DatabaseConfigurationError | None:
    """The error to raise at once if no retry can make this connection, else None."""
    if not isinstance(exc, psycopg.Error):
        return None
    said = server_words(exc)
    sqlstate = exc.sqlstate or ""
    if sqlstate in PERMANENT_SQLSTATES:
        return DatabaseConfigurationError(f"{said}: {PERMANENT_SQLSTATES[sqlstate]}")
    if isinstance(exc, psycopg.ProgrammingError) and not sqlstate:
        # libpq refused the URL before connecting: a malformed URL or an unknown option.
        return DatabaseConfigurationError(f"invalid PostgreSQL URL: {said}")
    host = UNRESOLVED_HOST.search(said)
    if host is not None:
        if TEMPORARY_LOOKUP.search(said):
            return None
        name = host["quoted"] or host["host"]
        why = re.sub(r"^[:\s]*(\[Errno -?\d+\]\s*)?", "", said[host.end() :])
        return DatabaseConfigurationError(
            f"cannot resolve the host name {name!r} ({why or 'unknown host'}): "
            "fix the host in the URL"
        )
    for pattern, fix in PERMANENT_MESSAGES:
        found = pattern.search(said)
        if found is not None:
            return DatabaseConfigurationError(f"{said}: {fix(found)}")
    return None


def server_words(exc: BaseException, *, where: bool = False) -> str:
    """The server's (or libpq's) own message on one line, without libpq's preamble
    ("connection to server at ... failed: FATAL:"), or with only its `where`."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r"^connection (failed|is bad): ", "", first)
    if not where:
        first = re.sub(r"^connection to server (at|on) .*? failed: ", "", first)
    return re.sub(r"(^|: )(FATAL|ERROR):\s+", r"\1", first).strip()


class ConnectFailures:
    """The last error a pool's connection attempts met, which the pool itself only logs.

    Opening a pool gives up at once on a failure no retry can mend (a wrong URL), and a pool
    that times out says why instead of only that it timed out.
    """

    def __init__(self) -> None:
        #: The error of the last attempt, if no attempt has succeeded since.
        self.last: Exception | None = None
        #: The error of the first attempt that failed in a way no retry can mend.
        self.for_good: DatabaseConfigurationError | None = None

    def record(self, exc: Exception) -> None:
        self.last = exc
        if self.for_good is None:
            self.for_good = permanent_connect_error(exc)
            if self.for_good is not None:
                self.for_good.__cause__ = exc

    def connected(self) -> None:
        self.last = None

    def timed_out(self, timeout_s: float) -> DatabaseConfigurationError | StorageUnavailable:
        """The error of a pool that had no connection within `timeout_s`."""
        if self.last is None:
            return StorageUnavailable(f"cannot connect to PostgreSQL within {timeout_s:g} s")
        error = connect_error(self.last)
        if isinstance(error, StorageUnavailable):
            return StorageUnavailable(
                f"cannot connect to PostgreSQL within {timeout_s:g} s: "
                f"{server_words(self.last, where=True)}"
            )
        return error

    def async_connection_class(self) -> type[psycopg.AsyncConnection[Any]]:
        """A connection class for an async pool that records its failed attempts here."""
        failures = self

        class Recorded(psycopg.AsyncConnection[Any]):
            @classmethod
            async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
                try:
                    conn = await super().connect(conninfo, **kwargs)
                except Exception as exc:
                    failures.record(exc)
                    raise
                failures.connected()
                return conn

        return Recorded

    def connection_class(self) -> type[psycopg.Connection[Any]]:
        """A connection class for a blocking pool that records its failed attempts here."""
        failures = self

        class Recorded(psycopg.Connection[Any]):
            @classmethod
            def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
                try:
                    conn = super().connect(conninfo, **kwargs)
                except Exception as exc:
                    failures.record(exc)
                    raise
                failures.connected()
                return conn

        return Recorded
