"""Turn results.json into RESULTS.md: one table per scenario, underway beside each peer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import dashboard_report, flow_report, workflow_report
from .report_format import get as _get
from .report_format import num as _num
from .report_format import ratio as _ratio
from .report_format import table as _table
from .targets_report import targets as _targets

COMPARE = {
    "sqlite": "underway-sqlite",
    "postgresql": "underway-postgresql",
    "redis": "underway-postgresql",
}
UNDERWAY = ("underway-sqlite", "underway-postgresql")
ORDER = (*UNDERWAY, "pgqueuer", "procrastinate", "huey", "celery", "rq", "dramatiq", "arq", "saq")


def _rows(
    systems: dict[str, Any], cells: Callable[[str, dict[str, Any], dict[str, Any]], list[str]]
) -> list[list[str]]:
    rows = []
    for name, data in systems.items():
        base = systems.get(COMPARE.get(data.get("backend", ""), ""), {})
        label = name if name in UNDERWAY else f"{name} {data.get('version', '')}"
        rows.append(
            [
                f"**{label}**" if name in UNDERWAY else label,
                data.get("backend", "?"),
                *cells(name, data, base),
            ]
        )
    return rows


#: How each floor in `bench/floor.py` is taken, for the sentence under its latency table.
PG_FLOOR = (
    "The floor on this machine (`bench/floor.py`, no job system): a raw psycopg producer "
    "inserts a row and NOTIFYs in one autocommitted statement, and a listener in another "
    "process claims it with one autocommitted UPDATE"
)
SQLITE_FLOOR = (
    "The SQLite floor on this machine (`bench/floor.py`, no job system): in one process, "
    "a raw sqlite3 producer thread inserts a row and commits (WAL, `synchronous=FULL`), "
    "then wakes a claimer thread that claims it with one UPDATE and commits"
)


ENQUEUE_FLOOR = (
    "The enqueue floor on this machine (`bench/floor.py`, no job system): the latency floor's "
    "producer statement (insert a row and NOTIFY, autocommitted) sent back to back on one "
    "psycopg connection for 2.5 s"
)


def _enqueue_floor(floor: dict[str, float] | None) -> str:
    if not floor:
        return ""
    return f"{ENQUEUE_FLOOR}: {_num(floor.get('rate'))} rows/s.\n"


def _floor(how: str, floor: dict[str, float] | None) -> str:
    if not floor:
        return ""
    return (
        f"{how}, same count and gaps: p50 {_num(floor.get('p50'), 2)} ms, "
        f"p95 {_num(floor.get('p95'), 2)} ms, p99 {_num(floor.get('p99'), 2)} ms.\n"
    )


def render(results: dict[str, Any]) -> str:
    found = results["systems"]
    systems: dict[str, Any] = {n: found[n] for n in sorted(found, key=_rank)}
    machine = results["machine"]
    mode = (
        "quick mode (1 run, smaller sizes)"
        if results.get("quick")
        else f"medians of {results['runs']} runs"
    )
    out = [
        "# Benchmark results\n",
        f"Measured {machine.get('date', '?')} by `make bench` ({mode}, "
        f"{results.get('minutes', 0):.0f} min). The machine may have been busy with other work "
        "while this ran, so the figures are indicative: compare columns measured in the same run "
        "rather than against figures from elsewhere. On this 2-core VM the same code measured "
        "hours apart has differed by up to a factor of two: on 2026-11-29 the raw PostgreSQL "
        "latency floor (below) was 1.94 ms p50 at 13:00 and 3.72 ms at 15:54, and pgqueuer's "
        "drain 8,486 and 4,910 jobs/s. The floors are measured in every run for that reason; "
        "the runs behind each median are in results.json. How each number is taken: "
        "[bench/README.md](README.md).\n",
        *(
            [
                f"Re-measured later with `--merge` ({merged['date']}): "
                f"{', '.join(merged['systems'])}; the other systems are from the run above.\n"
            ]
            if (merged := results.get("merged"))
            else []
        ),
        "Ratios are underway ÷ peer: for rates above 1 means underway is faster, for latency "
        "below 1 means underway is faster. Peers on PostgreSQL and Redis are compared with "
        "underway on PostgreSQL, huey with underway on SQLite.\n",
        "## Machine\n",
        _table(["fact", "value"], [[k, str(v)] for k, v in machine.items()]),
        "## Versions and worker settings\n",
        _table(
            ["system", "version", "backend", "worker settings"],
            [
                [n, d.get("version", "?"), d.get("backend", "?"), d.get("settings", "")]
                for n, d in systems.items()
            ],
        ),
        "## Targets\n",
        _targets(systems, results.get("floor_enqueue")),
        "## Enqueue (jobs/s)\n",
        "One call per job for up to 2.5 s; bulk: calls of 1,000 jobs (the library's bulk call "
        "where it has one, see the settings table and README).\n",
        _table(
            ["system", "backend", "one at a time", "ratio", "bulk", "ratio"],
            _rows(
                systems,
                lambda n, d, b: [
                    _num(_get(d, "enqueue_one", "rate")),
                    _ratio(_get(b, "enqueue_one", "rate"), _get(d, "enqueue_one", "rate")),
                    _num(_get(d, "enqueue_bulk", "rate")),
                    _ratio(_get(b, "enqueue_bulk", "rate"), _get(d, "enqueue_bulk", "rate")),
                ],
            ),
        ),
        _enqueue_floor(results.get("floor_enqueue")),
        "## Drain (jobs/s)\n",
        "N no-op jobs queued, then 1, 2 or 4 worker processes started; rate = N ÷ time from "
        "the first job's completion to the N-th (underway: until the database records all N "
        "completed). N is sized per system by a probe for a few seconds of work. CPU per job "
        "(1 process, from the first completion to the N-th): the worker process with its "
        "children, and the PostgreSQL and Redis server processes (SQLite runs inside the "
        "worker). On 2 cores, worker + server CPU per job bounds the rate.\n",
        _table(
            [
                "system",
                "backend",
                "N",
                "1 process",
                "ratio",
                "2 processes",
                "4 processes",
                "worker CPU µs/job",
                "server CPU µs/job",
            ],
            _rows(
                systems,
                lambda n, d, b: [
                    _num(_get(d, "drain", "1", "n")),
                    _num(_get(d, "drain", "1", "rate")),
                    _ratio(_get(b, "drain", "1", "rate"), _get(d, "drain", "1", "rate")),
                    _num(_get(d, "drain", "2", "rate")),
                    _num(_get(d, "drain", "4", "rate")),
                    _num(_get(d, "drain", "1", "worker_cpu_us")),
                    _num(_get(d, "drain", "1", "server_cpu_us")),
                ],
            ),
        ),
        "## Latency: enqueue → start (ms)\n",
        "One idle, warmed-up worker process; jobs enqueued one at a time about 20 ms apart "
        "from the benchmark process; the job subtracts the producer's timestamp (taken just "
        "before the enqueue call) from its own start time.\n",
        _table(
            ["system", "backend", "samples", "p50", "p95", "p99", "ratio p50", "ratio p99"],
            _rows(
                systems,
                lambda n, d, b: [
                    _num(_get(d, "latency", "n")),
                    _num(_get(d, "latency", "p50"), 1),
                    _num(_get(d, "latency", "p95"), 1),
                    _num(_get(d, "latency", "p99"), 1),
                    _ratio(_get(b, "latency", "p50"), _get(d, "latency", "p50")),
                    _ratio(_get(b, "latency", "p99"), _get(d, "latency", "p99")),
                ],
            ),
        ),
        "underway with the worker in the producer's own process (`app.start_worker`):\n",
        _table(
            ["backend", "p50", "p95", "p99"],
            [
                [
                    systems[n]["backend"],
                    *(
                        _num(_get(systems[n], "latency_in_process", q), 2)
                        for q in ("p50", "p95", "p99")
                    ),
                ]
                for n in UNDERWAY
                if n in systems
            ],
        ),
        _floor(SQLITE_FLOOR, results.get("floor_sqlite")),
        _floor(PG_FLOOR, results.get("floor")),
        "## Depth (underway)\n",
        "Filler rows inserted with SQL first (90% completed, 5% pending in a queue the worker "
        "does not serve, older than the fresh jobs, 5% scheduled a year ahead), then one worker "
        "drains fresh jobs (after a checkpoint, so that writing out the filler does not overlap "
        "the drain). Claim time is not observable from outside the worker, so the cost "
        "is given per job (µs of wall time per job drained).\n",
        _depth(systems),
        "## Memory (underway worker RSS, MiB)\n",
        _table(
            ["backend", "idle", "after draining", "jobs drained"],
            [
                [
                    systems[n]["backend"],
                    _num(_get(systems[n], "memory", "idle_mb"), 1),
                    _num(_get(systems[n], "memory", "after_mb"), 1),
                    _num(_get(systems[n], "memory", "n")),
                ]
                for n in UNDERWAY
                if n in systems
            ],
        ),
        "## Drain in-process (underway.testing.drain)\n",
        "What a test runs: no-op jobs (an async function that does nothing; the drain's "
        "return counts them, all completed) enqueued in bulk, then "
        "`drain(app, concurrency=200)` in "
        "the same process until none is left, on the memory backend (`memory://`), the SQLite "
        "file and PostgreSQL. The whole worker path runs for each job (claim, the job's code, "
        "the outcome written with the lease checked).\n",
        _in_process(systems, results.get("in_process_measured")),
        flow_report.section(systems, results.get("flow_measured")),
        workflow_report.section(systems, results.get("workflows_measured")),
        dashboard_report.section(systems, results.get("dashboard_measured")),
    ]
    errors = [(n, e) for n, d in systems.items() for e in d.get("errors", [])]
    if errors:
        out += ["## Failures in this run\n", *(f"- {n}: {e}\n" for n, e in errors)]
    return "\n".join(out)


def _rank(name: str) -> int:
    return ORDER.index(name) if name in ORDER else len(ORDER)


def _in_process(systems: dict[str, Any], measured: dict[str, Any] | None) -> str:
    rows = []
    for name in UNDERWAY:
        for where, data in systems.get(name, {}).get("drain_in_process", {}).items():
            rows.append([where, _num(_get(data, "n")), _num(_get(data, "rate"))])
    table = _table(["database", "jobs", "jobs/s"], rows)
    return f"{flow_report.measured_apart(measured, 'in-process')}\n{table}" if measured else table


def _depth(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        depth = systems.get(name, {}).get("depth", {})
        first = _get(depth, next(iter(depth), ""), "rate") if depth else None
        for size, data in depth.items():
            rows.append(
                [
                    systems[name]["backend"],
                    _num(float(size)),
                    _num(_get(data, "n")),
                    _num(_get(data, "rate")),
                    _num(_get(data, "us_per_job")),
                    _ratio(_get(data, "rate"), first),
                ]
            )
    return _table(["backend", "filler rows", "jobs", "jobs/s", "µs/job", "rate vs smallest"], rows)
