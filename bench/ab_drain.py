"""Interleaved A/B of the plain drain alone, between two source trees of underway.

`bench/.venv/bin/python -m bench.ab_drain TREE_A TREE_B [--rounds 6] [--backends sqlite,postgresql]`

The trees are checkouts (`git worktree add /tmp/ab-before <commit>`). Each measurement is
the drain table's one-process drain (`System.drain`: 20,000 no-op jobs, `underway worker
--concurrency 200`), run in a child process whose `PYTHONPATH` puts `<tree>/src` first, and
so its worker's: underway comes from the tree, the bench from this one. Both report where
they imported underway from; a path outside the tree stops the run. The sides alternate,
A B in odd rounds and B A in even ones, so that a drift of the machine's speed weighs on
both alike. Prints, per backend, each side's median and spread and B/A.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .measure import BIN, ROOT, Probe
from .system import Context
from .underway_cases import Underway

DRAIN_N = 20_000
PG_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
WHERE = "import underway; print(underway.__file__)"


class TreeUnderway(Underway):
    """underway from the tree on this process's PYTHONPATH, for its workers too."""

    def worker_env(self) -> dict[str, str]:
        return {**super().worker_env(), "PYTHONPATH": os.environ["PYTHONPATH"]}


def child(tree: Path, backend: str, n: int) -> dict[str, Any]:
    """One drain in this process (started by `measure_once`); where underway came from."""
    import underway

    with tempfile.TemporaryDirectory(prefix="underway-ab-drain-") as workdir:
        ctx = Context(Probe(Path(workdir)), workdir, PG_DSN, "", quick=False)
        system = TreeUnderway(ctx, backend)
        worker = subprocess.run(
            [str(BIN / "python"), "-c", WHERE],
            env={**os.environ, **system.worker_env()},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        imported = {"here": str(underway.__file__), "worker": worker}
        outside = [p for p in imported.values() if not p.startswith(f"{tree}/")]
        if outside:
            raise SystemExit(f"underway imported from outside {tree}: {outside}")
        system.setup()
        try:
            figures = system.drain(n, 1)
        finally:
            system.teardown()
    return {**figures, "imported": imported}


def measure_once(tree: Path, backend: str, n: int) -> dict[str, Any]:
    """A child process of this module with `<tree>/src` first on its PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": f"{tree}/src:{ROOT}"}
    command = [sys.executable, "-m", "bench.ab_drain", "--child", str(tree), backend, str(n)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{tree} {backend}: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def summary(rates: list[float]) -> str:
    spread = (max(rates) - min(rates)) / statistics.median(rates) * 100
    return (
        f"median {statistics.median(rates):,.0f} jobs/s, range {min(rates):,.0f} to "
        f"{max(rates):,.0f} ({spread:.0f}% of the median)"
    )


def report(backend: str, runs: list[dict[str, Any]], trees: dict[str, Path]) -> None:
    """Each side's rates and worker CPU per job, and B/A: of the medians, and per round."""
    side = {s: [r for r in runs if r["side"] == s] for s in "AB"}
    rates = {s: [r["rate"] for r in found] for s, found in side.items()}
    print(f"\n{backend}, {len(rates['A'])} rounds of {runs[0]['n']:,} jobs")
    for s in "AB":
        cpu = statistics.median(r["worker_cpu_us"] for r in side[s])
        print(f"  {s} {trees[s]}: {summary(rates[s])}; worker CPU {cpu:.0f} µs/job")
    paired = [b / a for a, b in zip(rates["A"], rates["B"], strict=True)]
    print(
        f"  B/A of the medians {statistics.median(rates['B']) / statistics.median(rates['A']):.3f}"
        f"; per round: median {statistics.median(paired):.3f}, "
        f"{min(paired):.3f} to {max(paired):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, help="TREE_A TREE_B")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--n", type=int, default=DRAIN_N, help="jobs per drain")
    parser.add_argument("--json", type=Path, help="every run's figures (default: in /tmp)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tree, backend, n = args.child
        print(json.dumps(child(Path(tree).resolve(), backend, int(n))))
        return
    trees = {"A": args.trees[0].resolve(), "B": args.trees[1].resolve()}
    runs: list[dict[str, Any]] = []
    out = args.json or Path(tempfile.gettempdir()) / f"underway-ab-drain-{os.getpid()}.json"
    for number in range(1, args.rounds + 1):
        order = "AB" if number % 2 else "BA"
        for backend in args.backends.split(","):
            for side in order:
                found = measure_once(trees[side], backend, args.n)
                runs.append({"round": number, "side": side, "backend": backend, **found})
                print(f"round {number} {backend} {side}: {found['rate']:,.0f} jobs/s", flush=True)
                saved = {"trees": {k: str(v) for k, v in trees.items()}, "runs": runs}
                out.write_text(json.dumps(saved, indent=2) + "\n")
    for backend in args.backends.split(","):
        report(backend, [r for r in runs if r["backend"] == backend], trees)
    print(f"\nevery run: {out}")


if __name__ == "__main__":
    main()
