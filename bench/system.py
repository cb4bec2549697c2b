"""The interface every measured system implements, and the scenarios run the same way on all.

A system provides single and bulk enqueue calls, a worker command (its documented worker) and
a reset; the scenarios here time them: enqueue rate, drain rate with 1..N worker processes,
and enqueue-to-start latency against an idle, warmed-up worker.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from .measure import CpuMeter, Probe, percentile, say, workers

ENQUEUE_BUDGET_S = 2.5
BULK_CHUNK = 1000
WARMUP_JOBS = 20


@dataclass
class Context:
    """What a system needs to know about the run: where things are and how big to go."""

    probe: Probe
    workdir: Any
    pg_dsn: str
    redis_url: str
    quick: bool
    run_id: str = field(default_factory=lambda: f"{os.getpid()}_{int(time.time())}")


class System:
    """A queue library under test. Subclasses fill in the hooks; scenarios are shared."""

    name = "?"
    backend = "?"
    package = ""
    #: The worker settings used, stated in the tables.
    settings = ""
    #: Jobs per drain run (about 3 s or more of work for this system).
    drain_n = 10_000
    #: Drain with several worker processes is measured for these process counts.
    processes = (1, 2, 4)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._runner: asyncio.Runner | None = None

    # -- hooks ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """Create schema/keys; called once before the scenarios."""

    def teardown(self) -> None:
        """Drop what setup created."""

    def reset(self) -> None:
        """Remove every job, queued or finished, so the next scenario starts empty."""
        raise NotImplementedError

    def enqueue_call(self, sent: float = 0.0) -> None:
        """Enqueue one no-op job with the library's single-job call."""
        raise NotImplementedError

    def enqueue_bulk_call(self, count: int) -> None:
        """Enqueue `count` no-op jobs with the library's bulk call (one round trip or batch)."""
        raise NotImplementedError

    def worker_command(self) -> list[str]:
        """The documented worker command, as an argv list (bench/.venv/bin on PATH)."""
        raise NotImplementedError

    def worker_env(self) -> dict[str, str]:
        return {}

    def version(self) -> str:
        from importlib.metadata import version

        return version(self.package or self.name)

    # -- helpers -------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on this system's own event loop (kept for its connections)."""
        if self._runner is None:
            self._runner = asyncio.Runner()
        return self._runner.run(coro)

    def close_loop(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def fill(self, n: int) -> None:
        """Queue n jobs with the bulk call, untimed (setup of drain runs)."""
        for start in range(0, n, BULK_CHUNK):
            self.enqueue_bulk_call(min(BULK_CHUNK, n - start))

    # -- scenarios -----------------------------------------------------------------------------

    def enqueue_one(self, n: int) -> dict[str, float]:
        """Jobs/s for one enqueue call per job, for n jobs or ENQUEUE_BUDGET_S, whichever first."""
        self.reset()
        for _ in range(5):
            self.enqueue_call()
        count = 0
        start = time.perf_counter()
        deadline = start + ENQUEUE_BUDGET_S
        while count < n:
            self.enqueue_call()
            count += 1
            if count % 50 == 0 and time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        return {"rate": count / elapsed, "n": count}

    def enqueue_bulk(self, n: int, chunk: int = BULK_CHUNK) -> dict[str, float]:
        """Jobs/s for bulk enqueue calls of `chunk` jobs each."""
        self.reset()
        self.enqueue_bulk_call(10)
        count = 0
        start = time.perf_counter()
        deadline = start + ENQUEUE_BUDGET_S
        while count < n:
            self.enqueue_bulk_call(chunk)
            count += chunk
            if time.perf_counter() > deadline:
                break
        elapsed = time.perf_counter() - start
        return {"rate": count / elapsed, "n": count, "chunk": chunk}

    def drain(self, n: int, processes: int) -> dict[str, float]:
        """Jobs/s for `processes` worker processes draining n queued jobs.

        The clock starts when the first job completes (so interpreter start-up is left out for
        every system) and stops when the n-th has; rate = n / that time.
        """
        self.reset()
        self.fill(n)
        probe = self.ctx.probe
        probe.reset()
        env = {**probe.env(), **self.worker_env()}
        with workers(self.worker_command(), env, processes) as running:
            cpu = CpuMeter(running.pids)
            try:
                first, last = probe.wait_count(n, max(120.0, n / 50), running, cpu.start)
            except TimeoutError:
                running.check()
                raise
            # CPU from the first completion to the n-th: start-up and imports are left out.
            cost = cpu.per_job_us(n)
            last = self.confirm_done(n, last)
        return {"rate": n / max(last - first, 1e-9), "n": n, "seconds": last - first, **cost}

    def confirm_done(self, n: int, counted_at: float) -> float:
        """When the system's own state says all n are done (default: when the counter did)."""
        return counted_at

    def latency(self, count: int = 200, gap: float = 0.02) -> dict[str, float]:
        """Enqueue→start delay (ms) of `count` jobs sent `gap` s apart to one idle worker."""
        self.reset()
        probe = self.ctx.probe
        probe.reset()
        env = {**probe.env(), **self.worker_env()}
        with workers(self.worker_command(), env, 1) as running:
            # Warm up: the worker has imported, connected and run jobs before we measure.
            deadline = time.monotonic() + 60
            while probe.count() < WARMUP_JOBS:
                if time.monotonic() > deadline:
                    running.check()
                    raise TimeoutError("worker did not warm up")
                self.enqueue_call()
                time.sleep(0.05)
            return self.sample_latency(count, gap)

    def sample_latency(self, count: int, gap: float) -> dict[str, float]:
        """After warm-up: let the worker go idle, send `count` jobs `gap` s apart, and give the
        percentiles of their enqueue→start delays (ms)."""
        probe = self.ctx.probe
        time.sleep(1.0)
        probe.reset()
        for _ in range(count):
            sent = time.time()
            self.enqueue_call(sent)
            time.sleep(gap)
        deadline = time.monotonic() + 30
        while len(probe.delays_ms()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        delays = probe.delays_ms()
        if len(delays) < count:
            say(f"  {self.name}: only {len(delays)} of {count} latency samples")
        return {
            "p50": percentile(delays, 50),
            "p95": percentile(delays, 95),
            "p99": percentile(delays, 99),
            "n": len(delays),
        }
