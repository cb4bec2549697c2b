"""The event loop, in a background thread, on which an app's backend and in-process workers live."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .still_running import cancel_all, still_running

T = TypeVar("T")


class Runtime:
    """Runs coroutines on one private loop, from sync code in any thread or from other loops."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop, self._thread = self._start()
            return self._loop

    def _start(self) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self._serve, args=(loop,), name=f"underway-{self._name}", daemon=True
        )
        thread.start()
        return loop, thread

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the runtime loop and block until it returns (sync callers)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "a blocking underway call was made from inside the app's event loop "
                "(e.g. in an async job); use the *_async method with await instead"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            # Short waits keep the calling thread responsive to signals (Ctrl-C, SIGTERM).
            while not concurrent.futures.wait([future], timeout=0.25).done:
                pass
        except BaseException:
            future.cancel()
            raise
        return future.result()

    async def call_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine on the runtime loop from any event loop."""
        loop = self.loop
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def stop(self, cleanup: Coroutine[Any, Any, None] | None = None, timeout_s: float = 60) -> None:
        """Run a last coroutine on the loop, then stop the loop and its thread. If it is still
        running after `timeout_s`, every task of the loop is cancelled and given a moment to
        unwind, and TimeoutError names what they and underway's threads were waiting on."""
        with self._lock:
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            if cleanup is not None:
                cleanup.close()
            return
        try:
            if cleanup is not None:
                future = asyncio.run_coroutine_threadsafe(cleanup, loop)
                try:
                    future.result(timeout=timeout_s)
                except TimeoutError:
                    described = still_running(loop)
                    cancel_all(loop)
                    raise TimeoutError(
                        f"underway's {self._name} did not stop within {timeout_s:g} s; "
                        f"still running:\n{described}"
                    ) from None
        finally:
            with self._lock:
                self._loop = self._thread = None
            loop.call_soon_threadsafe(loop.stop)
            if threading.current_thread() is not thread:
                thread.join(timeout=10)
