"""Adapters that turn user lifespan and job-scope functions into async context managers."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..errors import ConfigurationError


def open_context(
    factory: Callable[..., Any], argument: Any
) -> contextlib.AbstractAsyncContextManager[Any]:
    """Call a factory (async/sync generator function or context manager factory) as a context."""
    args = (argument,) if _takes_argument(factory) else ()
    if inspect.isasyncgenfunction(factory):
        return contextlib.asynccontextmanager(factory)(*args)
    if inspect.isgeneratorfunction(factory):
        return _as_async(contextlib.contextmanager(factory)(*args))
    made = factory(*args)
    if hasattr(made, "__aenter__"):
        return made  # type: ignore[no-any-return]
    if hasattr(made, "__enter__"):
        return _as_async(made)
    raise ConfigurationError(
        f"{getattr(factory, '__name__', factory)!r} must be a generator function that yields "
        "once, or return a context manager"
    )


def _takes_argument(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


@contextlib.asynccontextmanager
async def _as_async(manager: contextlib.AbstractContextManager[Any]) -> AsyncIterator[Any]:
    with manager as value:
        yield value


@contextlib.asynccontextmanager
async def nothing(_: Any = None) -> AsyncIterator[None]:
    yield None
