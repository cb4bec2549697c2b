"""Which failed PostgreSQL connections no retry can mend (a wrong URL: raise at once, with the
fix), and which may pass (the server is down, starting, full or slow: retry)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg_errors

from underway.backends.postgres.open_errors import connect_error
from underway.errors import DatabaseConfigurationError, StorageUnavailable

AT = 'connection failed: connection to server at "10.0.0.5", port 5432 failed: '


@pytest.mark.parametrize(
    ("message", "fix"),
    [
        (f'{AT}FATAL:  database "jobs" does not exist', "createdb jobs"),
        (f'{AT}FATAL:  role "worker" does not exist', "createuser worker"),
        (f'{AT}FATAL:  password authentication failed for user "worker"', "fix the password"),
        (f'{AT}FATAL:  Ident authentication failed for user "worker"', "pg_hba.conf"),
        (f"{AT}fe_sendauth: no password supplied", "put the password in the URL"),
        (f'{AT}FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "w"', "pg_hba.conf"),
        (f'{AT}FATAL:  permission denied for database "jobs"', "grant the user CONNECT"),
        ("failed to resolve host 'db.typo': [Errno -2] Name or service not known", "fix the host"),
        ('could not translate host name "db.typo" to address: Name or service', "fix the host"),
    ],
)
def test_a_wrong_url_is_permanent_with_the_servers_words_and_the_fix(
    message: str, fix: str
) -> None:
    error = connect_error(psycopg.OperationalError(message))

    assert isinstance(error, DatabaseConfigurationError)
    assert fix in str(error)
    assert "connection to server at" not in str(error)
    assert "FATAL" not in str(error)


def test_a_sqlstate_says_permanent_whatever_the_language() -> None:
    error = connect_error(pg_errors.InvalidCatalogName('Datenbank "jobs" existiert nicht'))

    assert isinstance(error, DatabaseConfigurationError)
    assert "create the database" in str(error)


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (f"{AT}Connection refused\n\tIs the server running?", "Connection refused"),
        (f"{AT}FATAL:  the database system is starting up", "system is starting up"),
        (f"{AT}FATAL:  the database system is shutting down", "system is shutting down"),
        (f"{AT}FATAL:  sorry, too many clients already", "too many clients already"),
        (f"{AT}timeout expired", "timeout expired"),
        ("failed to resolve host 'db': [Errno -3] Temporary failure in name resolution", "db"),
        ("server closed the connection unexpectedly", "closed the connection"),
    ],
)
def test_an_unreachable_or_busy_server_is_transient(message: str, said: str) -> None:
    error = connect_error(psycopg.OperationalError(message))

    assert isinstance(error, StorageUnavailable)
    assert said in str(error)
