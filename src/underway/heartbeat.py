"""Heartbeater and LeaseWatcher: keep a worker's leases alive and notice when they end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from .backends.base import Backend
from .models import Lease, WorkerInfo
from .services import PeriodicService, ThrottledLog

log = logging.getLogger("underway.heartbeat")


class Heartbeater:
    """Marks the worker and its running jobs alive every `interval_s`.

    It runs in a thread of its own, on a connection of its own, so neither a job that blocks
    the event loop nor a busy connection delays it. If heartbeats keep failing for longer than
    `stall_timeout_s`, the sweeper elsewhere may already have handed the jobs to another
    worker, so it fences itself: every running job whose lease was last renewed (by a
    heartbeat or by its claim) longer ago than that is stopped as lost. Jobs claimed since the
    database came back are left alone while the heartbeat connection catches up.
    """

    def __init__(
        self,
        connect: Callable[[], Backend],
        interval_s: float,
        stall_timeout_s: float,
        worker: Callable[[], WorkerInfo],
        leases: Callable[[], Sequence[tuple[Lease, float]]],
        on_lost: Callable[[set[Lease]], None],
    ) -> None:
        self._connect = connect
        self._interval_s = interval_s
        self._stall_timeout_s = stall_timeout_s
        self._worker = worker
        self._leases = leases
        self._on_lost = on_lost
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = ThrottledLog(log)
        self.last_success = time.monotonic()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        deliver = self._on_lost

        def deliver_on_the_workers_loop(lost: set[Lease]) -> None:
            loop.call_soon_threadsafe(deliver, lost)

        self._on_lost = deliver_on_the_workers_loop
        self._thread = threading.Thread(target=self._serve, name="underway-heartbeat", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)
            self._thread = None

    def _serve(self) -> None:
        asyncio.run(self._beat_until_stopped())

    async def _beat_until_stopped(self) -> None:
        backend = await self._connected()
        if backend is None:
            return
        try:
            while not self._stopping.is_set():
                await self._beat(backend)
                await asyncio.to_thread(self._stopping.wait, self._interval_s)
        finally:
            with contextlib.suppress(Exception):
                await backend.close()

    async def _connected(self) -> Backend | None:
        """Open the heartbeat's own connection, retrying (and self-fencing) while it fails."""
        while not self._stopping.is_set():
            backend = self._connect()
            try:
                await backend.open()
                return backend
            except Exception as exc:
                self._failed(exc, self._leases())
            await asyncio.to_thread(self._stopping.wait, self._interval_s)
        return None

    async def _beat(self, backend: Backend) -> None:
        leases = self._leases()
        try:
            lost = await backend.heartbeat(self._worker(), [lease for lease, _ in leases])
        except Exception as exc:
            self._failed(exc, leases)
            return
        self.last_success = time.monotonic()
        if lost:
            self._on_lost({lease for lease, _ in leases if lease.job_id in lost})

    def _failed(self, exc: Exception, leases: Sequence[tuple[Lease, float]]) -> None:
        self._errors.error("heartbeat", "heartbeat failed: %s", exc)
        now = time.monotonic()
        expired = {
            lease
            for lease, claimed_at in leases
            if now - max(claimed_at, self.last_success) > self._stall_timeout_s
        }
        if expired:
            log.error(
                "no heartbeat for %.1f s: stopping %d running job(s) (self-fencing)",
                now - self.last_success,
                len(expired),
            )
            self._on_lost(expired)


class LeaseWatcher(PeriodicService):
    """Checks often which running jobs were cancelled or taken away; they stop within a second."""

    name = "lease-watcher"

    def __init__(
        self,
        backend: Backend,
        interval_s: float,
        worker_id: str,
        leases: Callable[[], Sequence[tuple[Lease, float]]],
        on_cancel: Callable[[str], None],
        on_lost: Callable[[set[Lease]], None],
    ) -> None:
        super().__init__(interval_s)
        self._backend = backend
        self._worker_id = worker_id
        self._leases = leases
        self._on_cancel = on_cancel
        self._on_lost = on_lost

    async def tick(self) -> None:
        if not self._leases():
            return
        snapshot_at = time.monotonic()
        held = await self._backend.running_leases(self._worker_id)
        lost: set[Lease] = set()
        for lease, claimed_at in self._leases():
            if claimed_at >= snapshot_at:
                continue
            attempt, cancel_requested = held.get(lease.job_id, (None, False))
            if attempt != lease.attempt:
                lost.add(lease)
            elif cancel_requested:
                self._on_cancel(lease.job_id)
        if lost:
            self._on_lost(lost)
