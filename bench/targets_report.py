"""The targets table of bench/RESULTS.md: each target, what was measured, whether it passed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import dashboard_report, flow_report, workflow_report
from .report_format import get as _get
from .report_format import num as _num
from .report_format import table as _table


def targets(systems: dict[str, Any], enqueue_floor: dict[str, float] | None) -> str:
    sq = systems.get("underway-sqlite", {})
    pg = systems.get("underway-postgresql", {})

    def depth_ratio(data: dict[str, Any]) -> float | None:
        low, high = _get(data, "depth", "10000", "rate"), _get(data, "depth", "1000000", "rate")
        return high / low if low and high else None

    drained = f"{_num(_get(sq, 'memory', 'n') or _get(pg, 'memory', 'n'))} jobs"

    def over_best_peer(ours: dict[str, Any], backends: set[str]) -> tuple[str, float | None]:
        """The fastest peer's name among those on `backends`, and underway's drain ÷ its."""
        peers = [
            (rate, name)
            for name, data in systems.items()
            if not name.startswith("underway")
            and data.get("backend") in backends
            and (rate := _get(data, "drain", "1", "rate"))
        ]
        rate = _get(ours, "drain", "1", "rate")
        if not peers or not rate:
            return "no peer measured", None
        best, name = max(peers)
        return name, rate / best

    sq_peer, sq_ratio = over_best_peer(sq, {"sqlite"})
    pg_peer, pg_ratio = over_best_peer(pg, {"postgresql", "redis"})
    checks: list[tuple[str, float | None, str, Callable[[float], bool]]] = [
        (
            "drain ≥ 10,000 jobs/s, SQLite (1 process)",
            _get(sq, "drain", "1", "rate"),
            "{:,.0f}/s",
            lambda v: v >= 10_000,
        ),
        (
            "drain ≥ 10,000 jobs/s, PostgreSQL (1 process)",
            _get(pg, "drain", "1", "rate"),
            "{:,.0f}/s",
            lambda v: v >= 10_000,
        ),
        (
            f"drain ≥ 2x the fastest peer of this run ({sq_peer}), SQLite (1 process)",
            sq_ratio,
            "{:.2f}x",
            lambda v: v >= 2,
        ),
        (
            f"drain ≥ 2x the fastest peer of this run ({pg_peer}), PostgreSQL (1 process)",
            pg_ratio,
            "{:.2f}x",
            lambda v: v >= 2,
        ),
        (
            "enqueue one at a time ≥ 1,500/s, PostgreSQL"
            + (f" (raw floor: {_num(enqueue_floor.get('rate'))}/s)" if enqueue_floor else ""),
            _get(pg, "enqueue_one", "rate"),
            "{:,.0f}/s",
            lambda v: v >= 1_500,
        ),
        (
            "enqueue_many ≥ 25,000/s, SQLite",
            _get(sq, "enqueue_bulk", "rate"),
            "{:,.0f}/s",
            lambda v: v >= 25_000,
        ),
        (
            "enqueue_many ≥ 25,000/s, PostgreSQL",
            _get(pg, "enqueue_bulk", "rate"),
            "{:,.0f}/s",
            lambda v: v >= 25_000,
        ),
        (
            "latency PostgreSQL p50 ≤ 2 ms",
            _get(pg, "latency", "p50"),
            "{:.1f} ms",
            lambda v: v <= 2,
        ),
        (
            "latency PostgreSQL p99 ≤ 10 ms",
            _get(pg, "latency", "p99"),
            "{:.1f} ms",
            lambda v: v <= 10,
        ),
        (
            "latency SQLite cross-process p50 ≤ 5 ms",
            _get(sq, "latency", "p50"),
            "{:.1f} ms",
            lambda v: v <= 5,
        ),
        (
            "latency SQLite cross-process p99 ≤ 20 ms",
            _get(sq, "latency", "p99"),
            "{:.1f} ms",
            lambda v: v <= 20,
        ),
        (
            "latency SQLite in-process p50 ≤ 1 ms",
            _get(sq, "latency_in_process", "p50"),
            "{:.2f} ms",
            lambda v: v <= 1,
        ),
        (
            "depth: rate at 1M ≥ 80% of rate at 10k, SQLite",
            depth_ratio(sq),
            "{:.0%}",
            lambda v: v >= 0.8,
        ),
        (
            "depth: rate at 1M ≥ 80% of rate at 10k, PostgreSQL",
            depth_ratio(pg),
            "{:.0%}",
            lambda v: v >= 0.8,
        ),
        (
            f"worker RSS ≤ 100 MB after 100k jobs (here {drained}), SQLite",
            _get(sq, "memory", "after_mb"),
            "{:.0f} MiB",
            lambda v: v <= 100,
        ),
        (
            f"worker RSS ≤ 100 MB after 100k jobs (here {drained}), PostgreSQL",
            _get(pg, "memory", "after_mb"),
            "{:.0f} MiB",
            lambda v: v <= 100,
        ),
        (
            "drain in-process on memory:// ≥ 50,000 no-op jobs/s",
            _get(sq, "drain_in_process", "memory", "rate"),
            "{:,.0f} jobs/s",
            lambda v: v >= 50_000,
        ),
        *flow_report.checks(systems),
        *workflow_report.checks(systems),
        *dashboard_report.checks(systems),
    ]
    rows = []
    for label, value, fmt, ok in checks:
        if value is None:
            rows.append([label, "not measured", "-"])
        else:
            rows.append([label, fmt.format(value), "pass" if ok(value) else "**miss**"])
    return _table(["target", "measured", "result"], rows)
