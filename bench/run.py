"""Run every scenario on underway and its peers, then write bench/RESULTS.md and results.json.

`python -m bench.run` (what `make bench` runs); BENCH_QUICK=1 for smaller sizes and one run;
`--only underway-sqlite,pgqueuer` to measure a subset (names as in the tables); `--only flow`
measures only underway's flow-control scenarios, `--only workflows` only its workflow ones,
`--only in-process` only its in-process drains and `--only dashboard` only its dashboard
pages over 1,000,000 jobs, into the existing results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import platform
import shutil
import sqlite3
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import dashboard_cases, floor, flow_cases, report, workflow_cases
from .measure import ROOT, Probe, medians, say
from .system import ENQUEUE_BUDGET_S, Context, System
from .underway_cases import Underway

PEERS = ("pgqueuer", "procrastinate", "huey", "celery", "rq", "dramatiq", "arq", "saq")
PG_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
DRAIN_SECONDS = 4.0
DEPTH_SIZES = (10_000, 100_000, 1_000_000)


class Plan:
    """Sizes and repetitions for a full or a quick run."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.runs = 1 if quick else 3
        self.enqueue_n = 2_000 if quick else 5_000
        self.bulk_n = 20_000 if quick else 50_000
        self.drain_scale = 0.25 if quick else 1.0
        self.drain_seconds = 2.0 if quick else DRAIN_SECONDS
        self.latency_n = 100 if quick else 200
        self.depth_sizes = DEPTH_SIZES[:2] if quick else DEPTH_SIZES
        self.depth_jobs = 2_000 if quick else 20_000
        self.memory_jobs = 10_000 if quick else 100_000
        self.in_process_jobs = 10_000 if quick else 50_000


def key(system: System) -> str:
    return system.name if system.name != "underway" else f"underway-{system.backend}"


def attempt(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure is recorded and the suite goes on."""
    try:
        value = fn()
    except Exception as exc:
        say(f"  {name} failed: {exc!r}")
        (ROOT / "bench" / ".worker.log").open("a").write(traceback.format_exc())
        results.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: {exc}")
        return None
    say(f"  {name}: {_short(value)}")
    return value


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
        )
    return str(value)


def measure_system(system: System, plan: Plan) -> dict[str, Any]:
    """All shared scenarios on one system, `plan.runs` times each; medians kept with runs."""
    out: dict[str, Any] = {"settings": system.settings, "backend": system.backend}
    name = key(system)
    say(f"== {name}")
    setup = attempt(out, f"{name} setup", lambda: system.setup() or "ok")
    if setup is None:
        return out
    out["version"] = system.version()
    try:
        one = [
            attempt(out, f"{name} enqueue one", lambda: system.enqueue_one(plan.enqueue_n))
            for _ in range(plan.runs)
        ]
        bulk = [
            attempt(out, f"{name} enqueue bulk", lambda: system.enqueue_bulk(plan.bulk_n))
            for _ in range(plan.runs)
        ]
        out["enqueue_one"] = medians([r for r in one if r])
        out["enqueue_bulk"] = medians([r for r in bulk if r])
        # Probe the drain rate on a small batch, then size N for about drain_seconds of work.
        cap = max(500, int(system.drain_n * plan.drain_scale))
        probe = attempt(out, f"{name} drain probe", lambda: system.drain(max(200, cap // 5), 1))
        n = cap if probe is None else int(min(cap, max(500, probe["rate"] * plan.drain_seconds)))
        out["drain"] = {}
        for processes in system.processes:
            runs = [
                attempt(
                    out, f"{name} drain x{processes} n={n}", lambda p=processes: system.drain(n, p)
                )
                for _ in range(plan.runs)
            ]
            out["drain"][str(processes)] = medians([r for r in runs if r])
        lat = [
            attempt(out, f"{name} latency", lambda: system.latency(plan.latency_n))
            for _ in range(plan.runs)
        ]
        out["latency"] = medians([r for r in lat if r])
        if isinstance(system, Underway):
            measure_underway_only(system, plan, out)
    finally:
        attempt(out, f"{name} teardown", lambda: system.teardown() or "ok")
    return out


def measure_underway_only(system: Underway, plan: Plan, out: dict[str, Any]) -> None:
    name = key(system)
    lat = [
        attempt(
            out, f"{name} latency in-process", lambda: system.latency_in_process(plan.latency_n)
        )
        for _ in range(plan.runs)
    ]
    out["latency_in_process"] = medians([r for r in lat if r])
    out["depth"] = {}
    for rows in plan.depth_sizes:
        started = time.monotonic()
        if attempt(out, f"{name} depth fill {rows}", lambda r=rows: system.fill_depth(r) or "ok"):
            say(f"  filled {rows} rows in {time.monotonic() - started:.1f} s")
            runs = [
                attempt(out, f"{name} depth {rows}", lambda: system.depth_drain(plan.depth_jobs))
                for _ in range(plan.runs)
            ]
            out["depth"][str(rows)] = medians([r for r in runs if r])
    out["memory"] = attempt(out, f"{name} memory", lambda: system.memory(plan.memory_jobs)) or {}
    out["drain_in_process"] = measure_in_process(system, plan, out)
    out["flow"] = measure_flow(system, plan, out)
    out["workflows"] = measure_workflows(system, plan, out)


def measure_in_process(system: Underway, plan: Plan, out: dict[str, Any]) -> dict[str, Any]:
    """`underway.testing.drain` in this process, on each database the system offers."""
    name = key(system)
    found: dict[str, Any] = {}
    for where in system.in_process_databases():
        runs = [
            attempt(
                out,
                f"{name} drain in-process on {where}",
                lambda w=where: system.drain_in_process(w, plan.in_process_jobs),
            )
            for _ in range(plan.runs)
        ]
        found[where] = medians([r for r in runs if r])
    return found


def measure_flow(system: Underway, plan: Plan, out: dict[str, Any]) -> dict[str, Any]:
    """The flow-control scenarios (bench/flow_cases.py); failures go to `out`'s errors."""
    return flow_cases.measure(system, plan.quick, plan.runs, lambda n, fn: attempt(out, n, fn))


def measure_workflows(system: Underway, plan: Plan, out: dict[str, Any]) -> dict[str, Any]:
    """The workflow scenarios (bench/workflow_cases.py); failures go to `out`'s errors."""
    return workflow_cases.measure(system, plan.quick, plan.runs, lambda n, fn: attempt(out, n, fn))


def measure_dashboard(system: Underway, plan: Plan, out: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's pages over 1,000,000 jobs (bench/dashboard_cases.py)."""
    found = attempt(
        out, f"{key(system)} dashboard ", lambda: dashboard_cases.measure(system, plan.quick)
    )
    return found or {}


#: `--only` parts measured apart from the rest: the key of their figures in each system's
#: results, the key that says when they were measured, the words in their errors' names,
#: and how to measure them.
Part = tuple[str, str, str, Callable[[Underway, Plan, dict[str, Any]], dict[str, Any]]]
PARTS: dict[str, Part] = {
    "flow": ("flow", "flow_measured", " flow ", measure_flow),
    "workflows": ("workflows", "workflows_measured", " workflows ", measure_workflows),
    "in-process": (
        "drain_in_process",
        "in_process_measured",
        " drain in-process ",
        measure_in_process,
    ),
    "dashboard": ("dashboard", "dashboard_measured", " dashboard ", measure_dashboard),
}


def part_only(ctx: Context, plan: Plan, output: Path, part: str) -> None:
    """`--only flow`, `--only workflows` or `--only in-process`: that part of both underway
    systems, replacing only its figures (and errors) in the results.json that holds
    everything else."""
    figures, measured, tag, measure = PARTS[part]
    results = json.loads((output / "results.json").read_text())
    results[measured] = {
        "date": machine_facts()["date"],
        "quick": plan.quick,
        "cpu_probe_ms": cpu_probe_ms(),
    }
    for system in (Underway(ctx, "sqlite"), Underway(ctx, "postgresql")):
        name = key(system)
        data = results["systems"].setdefault(name, {"backend": system.backend})
        if "errors" in data:
            data["errors"] = [e for e in data["errors"] if tag not in e]
        if attempt(data, f"{name} setup", lambda s=system: s.setup() or "ok") is None:
            continue
        try:
            data[figures] = measure(system, plan, data)
        finally:
            attempt(data, f"{name} teardown", lambda s=system: s.teardown() or "ok")
        _write(results, output)


def cpu_probe_ms() -> float:
    """The best of 5 times of a fixed pure-Python loop, in ms: this machine's speed when a
    part was measured (the same machine kind has been seen here at up to 3 times slower)."""
    best = math.inf
    for _ in range(5):
        began = time.perf_counter()
        sum(i * i for i in range(1_000_000))
        best = min(best, time.perf_counter() - began)
    return round(best * 1000, 1)


def machine_facts() -> dict[str, str]:
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu probe (ms, lower is faster)": str(cpu_probe_ms()),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "sqlite": sqlite3.sqlite_version,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        facts["memory"] = f"{int(mem) / 1024 / 1024:.0f} GiB"
        facts["load before run"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(PG_DSN) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            facts["postgresql"] = str(row[0]) if row else "?"
    with contextlib.suppress(Exception):
        out = subprocess.run(["redis-cli", "INFO", "server"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            if line.startswith("redis_version:"):
                facts["redis"] = line.split(":", 1)[1].strip()
    return facts


def build_systems(ctx: Context, only: set[str] | None) -> list[System]:
    systems: list[System] = [Underway(ctx, "sqlite"), Underway(ctx, "postgresql")]
    for peer in PEERS:
        if only is not None and peer not in only:
            continue
        try:
            module = importlib.import_module(f"bench.peers.{peer}")
        except Exception as exc:
            say(f"{peer}: import failed: {exc!r}")
            continue
        systems.append(module.PEER(ctx))
    if only is not None:
        systems = [s for s in systems if key(s) in only or s.name in only]
    return systems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated system names (default: all)")
    parser.add_argument("--output", default=str(ROOT / "bench"), help="where results go")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite RESULTS.md from results.json"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the measured systems in the existing results.json",
    )
    args = parser.parse_args()
    if args.render:
        output = Path(args.output)
        results = json.loads((output / "results.json").read_text())
        (output / "RESULTS.md").write_text(report.render(results))
        return
    plan = Plan(quick=os.environ.get("BENCH_QUICK", "") not in ("", "0"))
    only = set(args.only.split(",")) if args.only else None
    workdir = Path(tempfile.mkdtemp(prefix="underway-bench-"))
    ctx = Context(Probe(workdir), workdir, PG_DSN, REDIS_URL, plan.quick)
    (ROOT / "bench" / ".worker.log").write_bytes(b"")
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine_facts(),
        "quick": plan.quick,
        "runs": plan.runs,
        "systems": {},
    }
    if only is not None and len(only) == 1 and (part := next(iter(only))) in PARTS:
        try:
            part_only(ctx, plan, Path(args.output), part)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        say(f"done in {(time.monotonic() - started) / 60:.1f} min")
        return
    if args.merge:
        previous = json.loads((Path(args.output) / "results.json").read_text())
        measured_now = results["machine"]
        kept = ("machine", "minutes", "floor", "floor_sqlite", "floor_enqueue")
        results.update({k: previous[k] for k in kept if k in previous})
        results["systems"] = previous["systems"]
        results["merged"] = {"date": measured_now.get("date", "?"), "systems": sorted(only or [])}
    try:
        if only is None or "floor" in only:
            say(
                "== floors (raw psycopg and raw sqlite3 enqueue -> claim; raw psycopg enqueue rate)"
            )
            runs = [floor.postgres_latency(PG_DSN) for _ in range(plan.runs)]
            results["floor"] = medians(runs)
            runs = [floor.sqlite_latency(workdir) for _ in range(plan.runs)]
            results["floor_sqlite"] = medians(runs)
            runs = [floor.postgres_enqueue_rate(PG_DSN, ENQUEUE_BUDGET_S) for _ in range(plan.runs)]
            results["floor_enqueue"] = medians(runs)
            _write(results, Path(args.output))
        for system in build_systems(ctx, only):
            results["systems"][key(system)] = measure_system(system, plan)
            if not args.merge:
                results["minutes"] = (time.monotonic() - started) / 60
            _write(results, Path(args.output))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say(f"done in {(time.monotonic() - started) / 60:.1f} min")


def _write(results: dict[str, Any], output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (output / "RESULTS.md").write_text(report.render(results))


if __name__ == "__main__":
    main()
