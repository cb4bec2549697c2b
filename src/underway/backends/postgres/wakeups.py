"""Wake-ups across processes on PostgreSQL: NOTIFYs sent with a transaction's commit, and
PostgresListener, one LISTEN connection relaying them to in-process subscribers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg import sql

from ...log_throttling import ThrottledLog
from ...stopping import cancel_and_wait
from ..base import CHANNELS
from ..notifier import LocalNotifier
from ..policy import Wakeups
from .connection import PostgresTarget, channel_name, connection_settings
from .tx import Tx

log = logging.getLogger("underway.postgres")
MAX_BACKOFF_S = 1.0
NOTIFY = "SELECT pg_notify(%s, %s)"


async def notify(tx: Tx, channel: str, payload: str) -> None:
    """Send a NOTIFY on commit of this transaction (PostgreSQL drops duplicates within it)."""
    await tx.run(NOTIFY, (channel_name(tx.schema, channel), payload))


async def send_wakeups(tx: Tx, wakeups: Wakeups) -> Wakeups:
    """Send `wakeups` to other processes as NOTIFYs on this transaction's commit."""
    if wakeups.work:
        await notify(tx, "work", "")
    for channel, ids in (("finished", wakeups.finished), ("cancel", wakeups.cancel)):
        for job_id in ids:
            await notify(tx, channel, job_id)
    return wakeups


class PostgresListener:
    """Listens on every channel; reconnects with capped backoff and re-LISTENs after failures."""

    def __init__(self, target: PostgresTarget, notifier: LocalNotifier) -> None:
        self._target = target
        self._notifier = notifier
        self._channels = {channel_name(target.schema, c): c for c in CHANNELS}
        self._task: asyncio.Task[None] | None = None
        self._errors = ThrottledLog(log)
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="underway-pg-listener")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                self._errors.error("listen", "LISTEN connection lost, reconnecting: %s", exc)
            if self.connected.is_set():
                backoff = 0.05
            self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._target.conninfo, autocommit=True, **connection_settings("listener")
        )
        async with conn:
            for name in self._channels:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name)))
            self.connected.set()
            # Notifications sent while we were away are lost: let workers look for work now.
            self._notifier.notify("work")
            async for notify in conn.notifies():
                self._relay(notify)

    def _relay(self, notify: Any) -> None:
        channel = self._channels.get(notify.channel)
        if channel == "finished":
            if not self._notifier.has_subscribers(channel):
                return  # a worker's own finishes, with nobody here waiting on a job
            # A batch of outcomes is announced with its job ids comma-joined.
            for job_id in notify.payload.split(","):
                self._notifier.notify(channel, job_id)
        elif channel is not None:
            self._notifier.notify(channel, notify.payload)
