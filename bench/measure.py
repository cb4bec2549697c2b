"""Timing helpers: percentiles, medians, RSS from /proc, completion counters, worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bench" / ".venv" / "bin"
POLL_S = 0.002


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else float("nan")


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs that measured something."""
    runs = [r for r in runs if r]
    return {k: median([r[k] for r in runs if k in r]) for k in runs[0]} if runs else {}


def of_plain(pairs: list[tuple[dict[str, float], dict[str, float]]]) -> float | None:
    """The median of each pair's rate over its own plain drain's: a drift of the machine's
    speed weighs on both drains of a pair alike, as they run back to back."""
    ratios = [o["rate"] / p["rate"] for p, o in pairs if p.get("rate") and o.get("rate")]
    return median(ratios) if ratios else None


def rss_mb(pid: int) -> float:
    """Resident set size of one process in MiB, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def descendants(pid: int) -> list[int]:
    """The children of a process (prefork workers), theirs, and so on, while they run."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and its descendants, in MiB."""
    total = rss_mb(pid)
    for child in descendants(pid):
        with contextlib.suppress(FileNotFoundError):
            total += rss_mb(child)
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Database and broker server processes whose CPU a drain costs besides its workers'.
SERVERS = ("postgres", "redis-server")


def own_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and its descendants."""
    return own_cpu_s(pid) + sum(own_cpu_s(child) for child in descendants(pid))


def servers_cpu_s() -> float:
    """CPU seconds used so far by every PostgreSQL and Redis server process on the machine."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if (entry / "comm").read_text().strip() in SERVERS:
                    total += own_cpu_s(int(entry.name))
    return total


class CpuMeter:
    """CPU spent by worker processes and by the database/broker servers between two marks."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = pids
        self._start = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        return sum(cpu_s(pid) for pid in self.pids), servers_cpu_s()

    def start(self) -> None:
        self._start = self._now()

    def per_job_us(self, jobs: int) -> dict[str, float]:
        workers, servers = self._now()
        return {
            "worker_cpu_us": (workers - self._start[0]) / jobs * 1e6,
            "server_cpu_us": (servers - self._start[1]) / jobs * 1e6,
        }


class Probe:
    """The completion counter and latency files that jobs append to (see bench.probe)."""

    def __init__(self, directory: Path) -> None:
        self.counter = directory / "counter"
        self.latency = directory / "latency"
        self.reset()

    def reset(self) -> None:
        self.counter.write_bytes(b"")
        self.latency.write_bytes(b"")

    def env(self) -> dict[str, str]:
        return {"BENCH_COUNTER": str(self.counter), "BENCH_LATENCY": str(self.latency)}

    def count(self) -> int:
        return self.counter.stat().st_size

    def delays_ms(self) -> list[float]:
        text = self.latency.read_text()
        return [float(line) * 1000 for line in text.split()]

    def wait_count(
        self,
        n: int,
        timeout: float,
        alive: Workers | None = None,
        on_first: Callable[[], None] | None = None,
    ) -> tuple[float, float]:
        """Wait until n jobs are counted; return (time of the first, time of the n-th).
        `on_first` is called when the first is counted."""
        deadline = time.perf_counter() + timeout
        first = 0.0
        checked = 0
        while True:
            checked += 1
            if alive is not None and checked % 500 == 0:
                alive.check()
            now = time.perf_counter()
            got = self.count()
            if got and not first:
                first = now
                if on_first is not None:
                    on_first()
            if got >= n:
                return first, now
            if now > deadline:
                raise TimeoutError(f"{got} of {n} jobs done after {timeout:.0f} s")
            time.sleep(POLL_S)


class Workers:
    """Worker processes started from a command; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, command: list[str], env: dict[str, str], processes: int = 1) -> None:
        self.command = command
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        full_env["PATH"] = f"{BIN}:{full_env.get('PATH', '')}"
        self.log = open(ROOT / "bench" / ".worker.log", "ab")  # noqa: SIM115
        self.procs = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=full_env,
                stdout=self.log,
                stderr=self.log,
                start_new_session=True,
            )
            for _ in range(processes)
        ]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def check(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"worker {' '.join(self.command)} exited {proc.returncode}")

    def stop(self, grace: float = 10.0) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.log.close()


@contextlib.contextmanager
def workers(command: list[str], env: dict[str, str], processes: int = 1) -> Iterator[Workers]:
    running = Workers(command, env, processes)
    try:
        yield running
    finally:
        running.stop()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
