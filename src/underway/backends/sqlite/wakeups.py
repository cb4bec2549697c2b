"""Cross-process wake-ups for SQLite: a datagram to every worker of one database file.

SQLite has no LISTEN/NOTIFY. A worker waiting for work binds an abstract unix datagram socket
(Linux) and leaves a marker file named after it in `<database>.wake/`; a process that commits
new work sends one byte to the socket of every marker. A lost datagram costs only latency:
workers still poll. Elsewhere than Linux both sides do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

SUPPORTED = sys.platform.startswith("linux")


def _address(name: str) -> str:
    return f"\0underway-wake-{name}"


def wake_directory(database_path: str) -> Path:
    return Path(f"{database_path}.wake")


class WakeupSender:
    """Sends a wake-up to every listening worker of the database; never raises. Safe to use
    from any thread."""

    def __init__(self, database_path: str) -> None:
        self._directory = wake_directory(database_path)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def send(self, skip: str | None = None) -> None:
        """Wake every listening worker but the receiver named `skip`."""
        if not SUPPORTED:
            return
        try:
            names = os.listdir(self._directory)
        except OSError:
            return
        for name in names:
            if name == skip:
                continue
            try:
                self._sender().sendto(b"w", _address(name))
            except (ConnectionRefusedError, FileNotFoundError):
                # Its worker is gone (killed without cleaning up): forget the marker.
                with contextlib.suppress(OSError):
                    (self._directory / name).unlink()
            except OSError:
                pass  # a full buffer means the worker has wake-ups waiting already

    def _sender(self) -> socket.socket:
        with self._lock:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            return self._socket

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


class WakeupReceiver:
    """Receives wake-ups on the running event loop and calls `on_wake` for each batch."""

    def __init__(self, database_path: str, on_wake: Callable[[], None]) -> None:
        self._directory = wake_directory(database_path)
        self._on_wake = on_wake
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        if not SUPPORTED or self._socket is not None:
            return
        try:
            self._directory.mkdir(mode=0o700, exist_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(_address(self.name))
            sock.setblocking(False)
            (self._directory / self.name).touch()
        except OSError:
            return  # no wake-ups: the worker polls as it would anyway
        self._socket = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        assert self._socket is not None
        with contextlib.suppress(OSError):
            while self._socket.recv(64):
                pass
        self._on_wake()

    def stop(self) -> None:
        if self._socket is None:
            return
        with contextlib.suppress(OSError):
            (self._directory / self.name).unlink()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._socket.fileno())
        self._socket.close()
        self._socket = None
