"""Interleaved A/B of underway's own scenarios: an older commit (A) against HEAD (B).

`bench/.venv/bin/python -m bench.ab BASE_REV [--rounds 3] [--quick]`

Each side is a `git worktree` in a temporary directory (removed at the end), so B is the
committed HEAD, not the edits in progress. `bench.run --only underway-sqlite,underway-postgresql`
runs in each tree alternately, A, B, A, B, ..., writing its results into the temporary
directory, never over a tree's committed RESULTS.md and results.json. Prints one table of
medians and B/A, and writes every round's figures to a JSON file.

How each side imports its own tree: bench/.venv has underway installed editable from the
main tree (a `.pth` path entry, which comes after PYTHONPATH), and bench.measure starts the
workers with `PYTHONPATH=<tree root>` and `bench/.venv/bin` of the tree first on PATH. So
each worktree gets an `underway` symlink at its root (to `src/underway`), found first by the
orchestrator (cwd) and by the workers (PYTHONPATH), and a `bench/.venv` symlink to this
venv. Before any round, a real `underway worker` started by the tree's own bench.measure
reports which files it imported; a path outside the tree stops the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv"
SYSTEMS = ("underway-sqlite", "underway-postgresql")
WORSE = 0.05
#: Leaf keys of results.json that are compared, with the better direction and unit. Others
#: (n, chunk, seconds, and depth's us_per_job, which is 1e6 / rate) are left out.
METRICS = {
    "rate": ("higher", "jobs/s"),
    "p50": ("lower", "ms"),
    "p95": ("lower", "ms"),
    "p99": ("lower", "ms"),
    "worker_cpu_us": ("lower", "µs/job"),
    "server_cpu_us": ("lower", "µs/job"),
    "idle_mb": ("lower", "MiB"),
    "after_mb": ("lower", "MiB"),
}

# Written into each worktree and loaded as the app of a real `underway worker`: it records
# which files that worker process imported, then exits before the worker starts.
PROBE_MODULE = """\
import json, os, sys
import bench, underway
with open(os.environ["AB_PROBE_OUT"], "w") as out:
    files = {"underway": underway.__file__, "bench": bench.__file__, "python": sys.executable}
    json.dump(files, out)
os._exit(0)
"""
# Run with the tree's python in the tree: its own imports, and the worker's through the
# tree's own bench.measure.workers (the environment the benchmark's workers get).
PROBE_DRIVER = """\
import json, subprocess, sys
import bench, underway
from bench.measure import workers
usage = subprocess.run(
    [sys.executable, "-m", "underway", "worker", "--help"], capture_output=True, text=True
).stdout
app = ["--app", "_ab_probe:app"] if "--app" in usage else ["_ab_probe:app"]
with workers(["underway", "worker", *app], {"AB_PROBE_OUT": sys.argv[1]}) as w:
    w.procs[0].wait(60)
print(json.dumps({"underway": underway.__file__, "bench": bench.__file__}))
"""


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True)
    return done.stdout.decode().strip()


@contextlib.contextmanager
def worktree(sha: str, path: Path) -> Iterator[Path]:
    """A detached worktree of `sha` at `path`, prepared to import itself; removed on exit."""
    git("worktree", "add", "--detach", str(path), sha)
    try:
        if not (path / "src" / "underway").is_dir():
            raise SystemExit(f"{sha}: no src/underway to import")
        (path / "underway").symlink_to("src/underway")
        (path / "bench" / ".venv").symlink_to(VENV)
        (path / "_ab_probe.py").write_text(PROBE_MODULE)
        yield path
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "remove", "--force", str(path))
        git("worktree", "prune")


def tree_env(quick: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_QUICK")}
    if quick:
        env["BENCH_QUICK"] = "1"
    return env


def check_imports(tree: Path) -> dict[str, Any]:
    """Where the orchestrator and a worker of this tree import underway and bench from."""
    out = tree / "_ab_probe.json"
    done = subprocess.run(
        [str(tree / "bench/.venv/bin/python"), "-c", PROBE_DRIVER, str(out)],
        cwd=tree,
        env=tree_env(False),
        check=True,
        capture_output=True,
        text=True,
    )
    if not out.exists():
        log = (tree / "bench" / ".worker.log").read_text()[-2000:]
        raise SystemExit(f"the probe worker in {tree} did not report:\n{log}")
    found = {"bench.run": json.loads(done.stdout), "worker": json.loads(out.read_text())}
    for process, files in found.items():
        for package in ("underway", "bench"):
            if not files[package].startswith(f"{tree}/"):
                raise SystemExit(f"{process} in {tree} imported {package} from {files[package]}")
    return found


def run_once(tree: Path, output: Path, quick: bool, systems: list[str]) -> dict[str, Any]:
    """One bench.run of underway's systems in `tree`; its results.json goes to `output`."""
    command = [str(tree / "bench/.venv/bin/python"), "-m", "bench.run"]
    command += ["--only", ",".join(systems), "--output", str(output)]
    subprocess.run(command, cwd=tree, env=tree_env(quick), check=True)
    results: dict[str, Any] = json.loads((output / "results.json").read_text())
    return results


def run_rounds(
    trees: dict[str, Path], args: argparse.Namespace, tmp: Path, raw: dict[str, Any]
) -> None:
    """A, B, A, B, ...; every run's results are added to `raw` and saved at once."""
    for number in range(1, args.rounds + 1):
        for side, tree in trees.items():
            print(f"\n### round {number}/{args.rounds}, {side}: {tree}", flush=True)
            started = time.monotonic()
            out = tmp / "out" / f"{side}{number}"
            results = run_once(tree, out, args.quick, args.only)
            seconds = time.monotonic() - started
            errors = results.get("errors", [])
            print(f"### {side}{number}: {seconds / 60:.1f} min, {len(errors)} errors", flush=True)
            raw["runs"].append({"side": side, "round": number, "seconds": seconds, **results})
            save(raw, args.json)


def save(raw: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(raw, indent=2) + "\n")


def figures(system: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The compared numbers of one system's results, keyed like 'drain 2 rate'."""
    found: dict[str, float] = {}
    for name, value in system.items():
        if isinstance(value, dict):
            found |= figures(value, f"{prefix}{name} ")
        elif name in METRICS and isinstance(value, int | float):
            found[f"{prefix}{name}"] = float(value)
    return found


def side_medians(runs: list[dict[str, Any]], side: str, system: str) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for run in runs:
        if run["side"] == side:
            got = figures(run["systems"].get(system, {}))
            for metric, value in got.items():
                values.setdefault(metric, []).append(value)
    return {metric: statistics.median(found) for metric, found in values.items()}


def compare(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per system and metric: medians of A and B, B/A and the change for the better."""
    rows = []
    for system in [s for s in SYSTEMS if any(s in run.get("systems", {}) for run in runs)]:
        a, b = side_medians(runs, "A", system), side_medians(runs, "B", system)
        for metric in [*a, *(m for m in b if m not in a)]:
            # On SQLite there is no server: that figure is other processes' PostgreSQL CPU.
            if not (system == "underway-sqlite" and metric.endswith("server_cpu_us")):
                rows.append(row(system, metric, a.get(metric), b.get(metric)))
    return rows


def row(system: str, metric: str, a: float | None, b: float | None) -> dict[str, Any]:
    """`gain` is B's change for the better: B/A - 1 where higher is better, 1 - B/A where
    lower is; `worse` flags a gain below -5%."""
    better, unit = METRICS[metric.rsplit(" ", 1)[-1]]
    ratio = b / a if a and b is not None else None
    gain = None if ratio is None else ratio - 1 if better == "higher" else 1 - ratio
    return {
        "system": system,
        "metric": metric,
        "unit": unit,
        "better": better,
        "a": a,
        "b": b,
        "ratio": ratio,
        "gain": gain,
        "worse": gain is not None and gain < -WORSE,
    }


def number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def print_table(rows: list[dict[str, Any]], a_name: str, b_name: str) -> None:
    head = f"{'system':<20} {'scenario':<24} {'unit':<7} {'better':<7}"
    head += f"{'A':>10} {'B':>10} {'B/A':>6}  change"
    print(f"\nA: {a_name}\nB: {b_name}\nmedians; change > 0 is better for B\n")
    print(head)
    print("-" * len(head))
    for row in rows:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        gain = "" if row["gain"] is None else f"{row['gain'] * 100:+.1f}%"
        flag = f"  << worse by more than {WORSE:.0%}" if row["worse"] else ""
        print(
            f"{row['system']:<20} {row['metric']:<24} {row['unit']:<7} {row['better']:<7}"
            f"{number(row['a']):>10} "
            f"{number(row['b']):>10} {ratio:>6}  {gain}{flag}"
        )
    worse = sum(row["worse"] for row in rows)
    print(f"\n{worse} of {len(rows)} figures worse by more than {WORSE:.0%} in B")
    missing = [r["metric"] for r in rows if r["a"] is not None and r["b"] is None]
    if missing:
        print(f"{len(missing)} figures of A missing in B (a scenario failed): see the log")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", help="the older commit (A), e.g. 2b8cbbe")
    parser.add_argument("--rounds", type=int, default=3, help="A, B pairs (default 3)")
    parser.add_argument("--quick", action="store_true", help="bench.run's quick sizes")
    parser.add_argument("--json", type=Path, help="raw figures file (default: in /tmp)")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=list(SYSTEMS),
        help=f"systems to measure (default {','.join(SYSTEMS)})",
    )
    parser.add_argument("--head", default="HEAD", help="the newer commit (B), default HEAD")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not (VENV / "bin" / "python").exists():
        raise SystemExit("no bench/.venv: run make bench-env first")
    shas = {
        "A": git("rev-parse", f"{args.base}^{{commit}}"),
        "B": git("rev-parse", f"{args.head}^{{commit}}"),
    }
    if args.json is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"underway-ab-{shas['A'][:7]}-{shas['B'][:7]}-{stamp}.json"
        args.json = Path(tempfile.gettempdir()) / name
    raw: dict[str, Any] = {"a": shas["A"], "b": shas["B"], "quick": args.quick, "runs": []}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="underway-ab-") as tmp, contextlib.ExitStack() as s:
        trees = {
            side: s.enter_context(worktree(sha, Path(tmp) / side)) for side, sha in shas.items()
        }
        raw["imports"] = {side: check_imports(tree) for side, tree in trees.items()}
        for side, found in raw["imports"].items():
            print(
                f"{side} imports underway from: "
                + ", ".join(f"{p} {f['underway']}" for p, f in found.items())
            )
        run_rounds(trees, args, Path(tmp), raw)
    raw["comparison"] = compare(raw["runs"])
    raw["minutes"] = (time.monotonic() - started) / 60
    save(raw, args.json)
    names = {side: git("log", "-1", "--format=%h %s", sha)[:90] for side, sha in shas.items()}
    print_table(raw["comparison"], names["A"], names["B"])
    print(f"raw figures of every round: {args.json} ({raw['minutes']:.1f} min in all)")
    if any(row["a"] is not None and row["b"] is None for row in raw["comparison"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
