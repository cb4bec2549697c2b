"""The app's database: one backend, opened on first use on the app's runtime loop, and
closed at the latest when the interpreter exits."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import weakref
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..backends import open_backend, pinned_url
from ..backends.base import Backend, Clock
from .runtime import Runtime

R = TypeVar("R")
#: How long closing a backend left open may hold up the interpreter's exit.
CLOSE_AT_EXIT_S = 5.0


class Storage:
    """Opens the backend once, runs calls on it from any thread or loop, and closes it."""

    def __init__(
        self,
        runtime: Runtime,
        database_url: str,
        *,
        migrate: bool,
        clock: Clock | None,
        create: bool = True,
    ) -> None:
        self.runtime = runtime
        self.database_url = database_url
        #: Whether opening may create a missing SQLite file; a worker passes False, so that
        #: a mistyped path fails instead of serving an empty new database. Read like the URL.
        self.create = create
        self._migrate = migrate
        #: The injected clock (tests); read when the backend opens, as the URL is.
        self.clock = clock
        self._backend: Backend | None = None
        self._opening: asyncio.Lock | None = None
        #: The tasks the backend started on the loop as it opened (a pool's, a listener's).
        self._backend_tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    @property
    def database_url(self) -> str:
        """Read when the backend is first opened, so it may be changed until then. A memory
        URL is pinned as it is set: `memory://` to one new database, and every memory URL
        to this process, so that `new_backend` opens the same database and another process
        handed the URL is refused."""
        return self._database_url

    @database_url.setter
    def database_url(self, url: str) -> None:
        self._database_url = pinned_url(url)

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
                    backend = open_backend(
                        self.database_url, self.clock, migrate=self._migrate, create=self.create
                    )
                    before = asyncio.all_tasks()
                    await backend.open()
                    self._backend = backend
                    self._backend_tasks = weakref.WeakSet(asyncio.all_tasks() - before)
                    if self._backend_tasks:
                        # They must end before the interpreter does.
                        _open_storages.add(self)
        return self._backend

    async def now(self) -> datetime:
        """The current time: the injected clock's if there is one, else the database's (asked
        on the runtime loop, whichever loop the caller is on)."""
        if self.clock is not None:
            return datetime.fromtimestamp(self.clock.now(), UTC)
        return await self.call(lambda backend: backend.now())

    def new_backend(self) -> Backend:
        """A separate, unopened connection to the same database (e.g. for heartbeats)."""
        return open_backend(self.database_url, self.clock, migrate=False, lean=True, create=False)

    async def call(self, fn: Callable[[Backend], Coroutine[Any, Any, R]]) -> R:
        """Run `fn` with the opened backend on the runtime loop, from any event loop."""

        async def on_runtime() -> R:
            return await fn(await self.backend())

        return await self.runtime.call_async(on_runtime())

    async def close(self) -> None:
        """Close the backend (on the runtime loop); the next call opens it again."""
        _open_storages.discard(self)
        if self._backend is not None:
            await self._backend.close()
            self._backend = None

    def close_at_exit(self) -> None:
        """Close the backend, quietly: the interpreter is exiting, and a backend left open
        would have its pool's tasks destroyed while pending ("Task was destroyed but it is
        pending!").

        Not while anything else runs on the loop (an in-process worker never stopped): the
        interpreter takes no more work in threads by now, so a worker cut off from its
        backend, or cancelled, fails loudly; it and the backend are left to end with the
        process, as before. `App.close` (or `with App(...)`) stops such a worker first."""

        async def close_unless_busy() -> None:
            others = asyncio.all_tasks() - set(self._backend_tasks) - {asyncio.current_task()}
            if not others:
                await self.close()

        with contextlib.suppress(Exception):
            closing = asyncio.run_coroutine_threadsafe(close_unless_busy(), self.runtime.loop)
            closing.result(timeout=CLOSE_AT_EXIT_S)


#: The storages whose open backend runs tasks on the loop: closed at exit unless their app
#: closed them first.
_open_storages: weakref.WeakSet[Storage] = weakref.WeakSet()


@atexit.register
def _close_open_storages() -> None:
    for storage in list(_open_storages):
        storage.close_at_exit()
