"""A throwaway PostgreSQL server (initdb + pg_ctl) that a test may restart at will.

The shared server on 127.0.0.1:5432 is used by other test runs, so it is never restarted;
tests that need to restart PostgreSQL get their own on a free port instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINDIR = Path("/usr/lib/postgresql/15/bin")


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(BINDIR / name) if (BINDIR / name).exists() else None)
    if found is None:
        raise AssertionError(f"{name} is needed to run a private PostgreSQL server")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """One PostgreSQL cluster in a temporary directory, run as the `postgres` OS user if root."""

    def __init__(self, root: Path, durable: bool = False, max_connections: int = 60) -> None:
        self.durable = durable
        self.max_connections = max_connections
        self.data = root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.data.mkdir(mode=0o700)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.data.parent, entry.pw_uid, entry.pw_gid)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run(_tool("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} "
            f"-c max_connections={self.max_connections}"
        )
        if not self.durable:  # fast, but a crash loses the last commits
            options += " -c fsync=off -c synchronous_commit=off"
        log = str(self.data / "server.log")
        self._run(_tool("pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def restart(self, mode: str = "fast") -> None:
        log = str(self.data / "server.log")
        self._run(_tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-l", log, "-w", "restart")

    def stop(self, mode: str = "immediate") -> None:
        self._run(_tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@contextmanager
def private_postgres(durable: bool = False, max_connections: int = 60) -> Iterator[PrivateServer]:
    """A fresh server; `durable` keeps fsync and synchronous commits on (for crash tests)."""
    root = Path(tempfile.mkdtemp(prefix="underway-pg-"))
    root.chmod(0o755)
    server = PrivateServer(root, durable, max_connections)
    try:
        server.init()
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
