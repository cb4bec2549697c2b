"""The app that the workflow scenarios' workers load: no-op members and a fan-in for the
fan-out, a step that passes a number on for the chain (noting its start and end), and the
no-op of the enqueue→start latency measured beside the chain."""

from __future__ import annotations

import os
import time

from underway import App

from .probe import done

STEPS_ENV = "BENCH_STEPS"
app = App()
_fd: list[int] = []


@app.job
async def member(n: int) -> None:
    """A no-op member of the fan-out, and the job of the plain drain beside it."""
    done()


@app.job
async def fanin(results: list[None]) -> None:
    """The fan-in: receives the members' results, in order."""
    done()


@app.job
async def link(previous: int) -> int:
    """One step of the chain: notes `previous start end` (one O_APPEND write) and passes
    on the next number."""
    began = time.time()
    if not _fd:
        _fd.append(os.open(os.environ[STEPS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    done()
    os.write(_fd[0], f"{previous} {began:.6f} {time.time():.6f}\n".encode())
    return previous + 1


@app.job
async def noop(sent: float = 0.0) -> None:
    """The plain job of the enqueue→start latency (`sent`: the producer's time.time())."""
    done(sent)
