"""What a benchmark job does: note that it ran, and when it started relative to its enqueue.

Workers of every system call `done()` from their no-op job. Completions are counted as bytes
appended to one file (an O_APPEND write of one byte is atomic across processes and threads),
and start latencies as lines in another, so the orchestrator reads both without touching the
system under test.
"""

from __future__ import annotations

import os
import time

COUNTER_ENV = "BENCH_COUNTER"
LATENCY_ENV = "BENCH_LATENCY"
_fds: dict[str, int] = {}


def _fd(env: str) -> int:
    fd = _fds.get(env)
    if fd is None:
        fd = os.open(os.environ[env], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fds[env] = fd
    return fd


def done(sent: float = 0.0) -> None:
    """Record one completed job; with `sent` (producer's time.time()), also its start delay."""
    if sent:
        delay = time.time() - sent
        os.write(_fd(LATENCY_ENV), f"{delay:.6f}\n".encode())
    os.write(_fd(COUNTER_ENV), b"x")
