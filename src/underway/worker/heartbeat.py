"""Heartbeater, SelfFence and LeaseWatcher: keep a worker's leases alive, give them up on
its own clock when they cannot be renewed, and notice when they end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from ..backends.base import Backend
from ..config import WorkerSettings
from ..log_throttling import ThrottledLog
from ..models import Lease, WorkerInfo
from .periodic import PeriodicService

log = logging.getLogger("underway.heartbeat")


def fence_after(heartbeat_interval_s: float, stall_timeout_s: float) -> float:
    """How long after its last renewal a worker gives a lease up on its own clock: half a
    heartbeat interval before the sweeper elsewhere may rescue it."""
    return stall_timeout_s - heartbeat_interval_s / 2


def keep_leases(
    connect: Callable[[], Backend],
    settings: WorkerSettings,
    worker: Callable[[], WorkerInfo],
    leases: Callable[[], Sequence[tuple[Lease, float]]],
    on_lost: Callable[[set[Lease]], None],
) -> tuple[Heartbeater, SelfFence]:
    """A worker's heartbeater and the self-fence that gives its leases up when it fails."""
    fence_after_s = fence_after(settings.heartbeat_interval, settings.stall_timeout)
    heartbeater = Heartbeater(
        connect, settings.heartbeat_interval, fence_after_s, worker, leases, on_lost
    )
    tick_s = min(0.1, settings.heartbeat_interval / 8)
    return heartbeater, SelfFence(heartbeater, fence_after_s, tick_s, leases, on_lost)


class Heartbeater:
    """Renews the worker's registration and the leases it holds every `interval_s`.

    It runs in a thread of its own, on a connection of its own, so neither a job that blocks
    the event loop nor a busy connection delays it. `renewed` maps each lease the last
    successful heartbeat renewed to when that heartbeat began (the worker's monotonic clock,
    never later than the database's time of the renewal); `SelfFence` gives leases up from
    it. Each attempt is bounded, and renews only leases renewed less than `max_age_s` ago, so
    a heartbeat that reaches the database late revives no lease the worker has given up.
    """

    def __init__(
        self,
        connect: Callable[[], Backend],
        interval_s: float,
        max_age_s: float,
        worker: Callable[[], WorkerInfo],
        leases: Callable[[], Sequence[tuple[Lease, float]]],
        on_lost: Callable[[set[Lease]], None],
    ) -> None:
        self._connect = connect
        self._interval_s = interval_s
        self._max_age_s = max_age_s
        self._worker = worker
        self._leases = leases
        self._on_lost = on_lost
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors = ThrottledLog(log)
        self.renewed_at = time.monotonic()
        #: Each lease renewed by the last successful heartbeat, and when that heartbeat began.
        #: Replaced whole, never changed in place: the worker's loop reads it from its thread.
        self.renewed: dict[Lease, float] = {}

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
        """Open the heartbeat's own connection, retrying while it fails."""
        while not self._stopping.is_set():
            backend = self._connect()
            try:
                await backend.open()
                return backend
            except Exception as exc:
                self._errors.error("heartbeat", "heartbeat failed: %s", exc)
            await asyncio.to_thread(self._stopping.wait, self._interval_s)
        return None

    async def _beat(self, backend: Backend) -> None:
        leases = self._leases()
        began = time.monotonic()
        try:
            # Bounded, so that an attempt stuck on a dead connection does not hold back the
            # next one once the database is reachable again.
            async with asyncio.timeout(max(self._max_age_s, 2 * self._interval_s)):
                lost = await backend.heartbeat(
                    self._worker(), [lease for lease, _ in leases], max_age_s=self._max_age_s
                )
        except Exception as exc:
            self._errors.error("heartbeat", "heartbeat failed: %s", str(exc) or "timed out")
            return
        self.renewed_at = began
        self.renewed = {lease: began for lease, _ in leases if lease.job_id not in lost}
        if lost:
            self._on_lost({lease for lease, _ in leases if lease.job_id in lost})


class SelfFence(PeriodicService):
    """Stops the worker's jobs whose leases it can no longer vouch for, on its own clock.

    A lease is given up `fence_after_s` after it was last renewed (by the last successful
    heartbeat that named it, or by its claim), however long a heartbeat or a connection
    attempt blocks: the sweeper elsewhere may rescue a job once `stall_timeout` has passed,
    and by then the attempt here has stopped.
    """

    name = "self-fence"

    def __init__(
        self,
        heartbeater: Heartbeater,
        fence_after_s: float,
        interval_s: float,
        leases: Callable[[], Sequence[tuple[Lease, float]]],
        on_lost: Callable[[set[Lease]], None],
    ) -> None:
        super().__init__(interval_s)
        self._heartbeater = heartbeater
        self.fence_after_s = fence_after_s
        self._leases = leases
        self._on_lost = on_lost
        #: Leases already given up, whose outcome may still be being written: told once.
        self._given_up: set[Lease] = set()

    async def tick(self) -> None:
        renewed = self._heartbeater.renewed
        oldest = time.monotonic() - self.fence_after_s
        expired = {
            lease
            for lease, claimed_at in self._leases()
            if max(claimed_at, renewed.get(lease, claimed_at)) < oldest
        }
        fresh, self._given_up = expired - self._given_up, expired
        if fresh:
            log.error(
                "no heartbeat for %.1f s: stopping %d running job(s) (self-fencing)",
                time.monotonic() - self._heartbeater.renewed_at,
                len(fresh),
            )
            self._on_lost(fresh)


class LeaseWatcher(PeriodicService):
    """Checks often which running jobs were cancelled or taken away; they stop within a second."""

    name = "lease-watcher"

    def __init__(
        self,
        backend: Backend,
        interval_s: float,
        worker_id: str,
        leases: Callable[[], Sequence[Lease]],
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
        # The leases are taken before the read: each was claimed before it began, so a lease
        # missing from its answer was lost, not claimed after it.
        leases = self._leases()
        if not leases:
            return
        held = await self._backend.running_leases(self._worker_id)
        lost: set[Lease] = set()
        for lease in leases:
            attempt, cancel_requested = held.get(lease.job_id, (None, False))
            if attempt != lease.attempt:
                lost.add(lease)
            elif cancel_requested:
                self._on_cancel(lease.job_id)
        if lost:
            self._on_lost(lost)
