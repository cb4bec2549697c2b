"""Django's database connections around a sync job: a worker thread runs job after job with
no request to end, so, as Django does around each request, connections that are broken or
past CONN_MAX_AGE are closed before and after each job (a job then reconnects as needed,
after a database restart too). A connection inside an atomic block is left alone, so a job
function called directly within a transaction keeps it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections

F = TypeVar("F", bound=Callable[..., Any])


def close_stale_connections() -> None:
    """Close this thread's connections that are unusable or obsolete, outside transactions."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def with_fresh_connections(fn: F) -> F:
    """`fn`, run between two `close_stale_connections` if it is sync (an async job's ORM
    calls go through Django's own sync_to_async threads)."""
    if inspect.iscoroutinefunction(fn):
        return fn

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        close_stale_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_stale_connections()

    return run  # type: ignore[return-value]
