"""The app's database: one backend, opened on first use on the app's runtime loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..backends import open_backend
from ..backends.base import Backend, Clock
from .runtime import Runtime

R = TypeVar("R")


class Storage:
    """Opens the backend once, runs calls on it from any thread or loop, and closes it."""

    def __init__(
        self, runtime: Runtime, database_url: str, *, migrate: bool, clock: Clock | None
    ) -> None:
        self.runtime = runtime
        #: Read when the backend is first opened, so it may be changed until then.
        self.database_url = database_url
        self._migrate = migrate
        self._clock = clock
        self._backend: Backend | None = None
        self._opening: asyncio.Lock | None = None

    @property
    def opened(self) -> Backend | None:
        """The backend if it is open already, else None."""
        return self._backend

    async def backend(self) -> Backend:
        """The opened backend; runs on the runtime loop."""
        if self._backend is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._backend is None:
                    backend = open_backend(self.database_url, self._clock, migrate=self._migrate)
                    await backend.open()
                    self._backend = backend
        return self._backend

    async def now(self) -> datetime:
        """The current time: the injected clock's if there is one, else the database's."""
        if self._clock is not None:
            return datetime.fromtimestamp(self._clock.now(), UTC)
        return await (await self.backend()).now()

    def new_backend(self) -> Backend:
        """A separate, unopened connection to the same database (e.g. for heartbeats)."""
        return open_backend(self.database_url, self._clock, migrate=False, lean=True)

    async def call(self, fn: Callable[[Backend], Coroutine[Any, Any, R]]) -> R:
        """Run `fn` with the opened backend on the runtime loop, from any event loop."""

        async def on_runtime() -> R:
            return await fn(await self.backend())

        return await self.runtime.call_async(on_runtime())

    async def close(self) -> None:
        """Close the backend (on the runtime loop); the next call opens it again."""
        if self._backend is not None:
            await self._backend.close()
            self._backend = None
