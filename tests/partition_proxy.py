"""A TCP proxy between one worker and PostgreSQL that the fault suite can cut and restore.

While cut, nothing is forwarded either way, on open connections and on new ones: requests
sent meanwhile wait in the proxy and arrive when it is restored, as TCP retransmissions do
after a partition heals. No root and no iptables needed (Toxiproxy-style).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

CHUNK = 65536


class PartitionProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to `upstream_host:upstream_port`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)

    def cut(self) -> None:
        """Stop forwarding, both ways, on every connection."""
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def restore(self) -> None:
        """Forward again, first whatever waited."""
        self._loop.call_soon_threadsafe(self._flowing.set)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _listen(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        await self._flowing.wait()
        try:
            server_r, server_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self._pump(client_r, server_w), self._pump(server_r, client_w), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


@contextlib.contextmanager
def partition_proxy(
    upstream_host: str = "127.0.0.1", upstream_port: int = 5432
) -> Iterator[PartitionProxy]:
    proxy = PartitionProxy(upstream_host, upstream_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@dataclasses.dataclass(frozen=True)
class Cut:
    """How to start a process that can be cut off its database, and the switch for it: open
    the database at `url` with `env` set, then call `cut()` and `restore()`."""

    url: str
    env: dict[str, str]
    cut: Callable[[], None]
    restore: Callable[[], None]


@contextlib.contextmanager
def cuttable(url: str, directory: Path) -> Iterator[Cut]:
    """A cut between one process and the database at `url`: on PostgreSQL a PartitionProxy
    (requests arrive late once it is restored); on SQLite UNDERWAY_PARTITION_FILE (every
    storage call of that process fails while the file exists)."""
    if not url.startswith("postgres"):  # SQLite, and memory (SQLite on a RAM file)
        switch = directory / "cut"
        try:
            restore = functools.partial(switch.unlink, missing_ok=True)
            yield Cut(url, {"UNDERWAY_PARTITION_FILE": str(switch)}, switch.touch, restore)
        finally:
            switch.unlink(missing_ok=True)
        return
    with partition_proxy() as proxy:
        through_proxy = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        assert through_proxy != url, "the URL must name 127.0.0.1:5432"
        try:
            yield Cut(through_proxy, {}, proxy.cut, proxy.restore)
        finally:
            proxy.restore()
