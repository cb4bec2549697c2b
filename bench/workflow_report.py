"""The workflow part of RESULTS.md: its tables and its target lines (bench/workflow_cases.py)."""

from __future__ import annotations

from typing import Any

from .flow_report import BACKEND, UNDERWAY, Check, _num, _table, measured_apart

#: "A few milliseconds" per step over the plain enqueue→start latency, as a target.
STEP_BUDGET_MS = 5.0


def _part(systems: dict[str, Any], name: str) -> dict[str, Any]:
    found = systems.get(name, {}).get("workflows", {})
    return found if isinstance(found, dict) else {}


def _ratio(part: dict[str, Any]) -> float | None:
    """The fan-out's rate over its paired plain drains' (the median of the pairs' ratios)."""
    paired = part.get("fan_out", {}).get("of_plain")
    if paired is not None:
        return float(paired)
    plain = part.get("plain", {}).get("rate")
    fan_out = part.get("fan_out", {}).get("rate")
    return fan_out / plain if plain and fan_out else None


def _rounds(systems: dict[str, Any]) -> str:
    """The fan-out rounds of the run (the same for every system)."""
    found = {_part(systems, name).get("fan_rounds") for name in UNDERWAY} - {None}
    return "/".join(str(n) for n in sorted(found)) or "?"


def _over(chain: dict[str, Any]) -> float | None:
    per_step, latency = chain.get("per_step_ms"), chain.get("latency_p50_ms")
    return per_step - latency if per_step is not None and latency is not None else None


def section(systems: dict[str, Any], measured: dict[str, Any] | None) -> str:
    """The workflow section: a fan-out with its fan-in beside a plain drain, and a chain."""
    return "\n".join(
        [
            "## Workflows (underway)\n",
            measured_apart(measured, "workflows"),
            "### A fan-out and its fan-in beside a plain drain (jobs/s, one worker)\n",
            "Plain: 10,001 no-op jobs stored with `enqueue_many`. Fan-out: "
            "`app.start(chain(group(...), fanin.receiving().step()))`, 10,000 no-op members "
            "and a fan-in that receives their 10,000 results, in one transaction. One worker "
            "drains each; the clock runs from the first completion until the database "
            "records all 10,001 completed (for the fan-out, that is the fan-in's end). "
            "Stored: the time of the `enqueue_many` calls, or of `app.start`. Each fan-out "
            "runs beside a plain drain of its own (just before it in odd rounds, just after "
            f'it in even ones); rounds: {_rounds(systems)} (medians); "of plain" '
            "is the median of the ratios to the paired plain drain. (Quick mode: 2,000 "
            "members, one round, and a chain of 200; the tables give the sizes.)\n",
            _fan_outs(systems),
            "Where the difference goes: the CPU per job of the worker and of the PostgreSQL "
            "server processes (on SQLite, other processes' PostgreSQL) over each drain, and, "
            "from the rows, the fan-in's claim after its last member's finish and its own "
            "run (its members' results read and validated).\n",
            _costs(systems),
            "### A chain of 1,000 steps\n",
            "One worker, warmed up and idle: first the plain enqueue→start latency of single "
            "no-op jobs sent 20 ms apart (as the latency table above), then, idle again, "
            "`app.start` of a chain of 1,000 steps, each receiving the previous one's result. "
            "Per step: from the `app.start` call to the last step's end, over the steps. "
            "Hand-off: from a step's end to the next one's start (its outcome written, the "
            "next step released in that transaction, claimed and started).\n",
            _chains(systems),
            "### Cancelling and retrying a big workflow\n",
            "The fan-out's workflow (10,000 members and the fan-in) stored with no worker "
            "running, then `handle.cancel()` (every member pending or waiting is cancelled), "
            "`handle.retry()` (every one runs again) and `handle.status()`; each call's "
            "time, ms (medians of the runs).\n",
            _manages(systems),
            "### Jobs without dependencies\n",
            "The plain drains of this page (the drain table above) run with workflows in the "
            "code and no job using them. That this costs a plain drain nothing measurable is "
            "not shown by this part, whose plain drain has no other side to compare with, but "
            "by an interleaved A/B of the same plain drain on the commit before workflows and "
            "on one with them (`bench/ab_drain.py`).\n",
        ]
    )


def _fan_outs(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        part = _part(systems, name)
        plain, fan_out = part.get("plain", {}), part.get("fan_out", {})
        if plain or fan_out:
            ratio = _ratio(part)
            rows.append(
                [
                    BACKEND[name],
                    _num(fan_out.get("n") or plain.get("n")),
                    _num(plain.get("rate")),
                    _num(plain.get("store_s"), 2),
                    _num(fan_out.get("rate")),
                    _num(fan_out.get("store_s"), 2),
                    _num(ratio and ratio * 100) + "%",
                ]
            )
    header = ["backend", "jobs", "plain", "stored in s", "fan-out + fan-in", "stored in s"]
    return _table([*header, "of plain"], rows)


def _costs(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        part = _part(systems, name)
        plain, fan_out = part.get("plain", {}), part.get("fan_out", {})
        if plain or fan_out:
            rows.append(
                [
                    BACKEND[name],
                    _num(plain.get("seconds"), 2),
                    _num(fan_out.get("seconds"), 2),
                    _num(plain.get("worker_cpu_us")),
                    _num(fan_out.get("worker_cpu_us")),
                    _num(plain.get("server_cpu_us")),
                    _num(fan_out.get("server_cpu_us")),
                    _num(fan_out.get("fanin_claimed_after_ms"), 1),
                    _num(fan_out.get("fanin_run_ms"), 1),
                ]
            )
    header = ["backend", "plain s", "fan-out s", "worker µs/job, plain", "fan-out"]
    header += ["server µs/job, plain", "fan-out", "fan-in claimed after, ms", "fan-in run, ms"]
    return _table(header, rows)


#: The columns of the cancel-and-retry table: figure, digits.
MANAGE_FIGURES = (("members", 0), ("cancel_ms", 0), ("retry_ms", 0), ("status_ms", 1))


def _manages(systems: dict[str, Any]) -> str:
    rows = [
        [BACKEND[name], *(_num(manage.get(key), digits) for key, digits in MANAGE_FIGURES)]
        for name in UNDERWAY
        if (manage := _part(systems, name).get("manage"))
    ]
    return _table(["backend", "members", "cancel ms", "retry ms", "status ms"], rows)


def _chains(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        chain = _part(systems, name).get("chain", {})
        if chain:
            rows.append(
                [
                    BACKEND[name],
                    _num(chain.get("steps")),
                    _num(chain.get("total_s"), 2),
                    _num(chain.get("per_step_ms"), 2),
                    _num(chain.get("handoff_p50_ms"), 2),
                    _num(chain.get("handoff_p95_ms"), 2),
                    _num(chain.get("latency_p50_ms"), 2),
                    _num(chain.get("latency_p95_ms"), 2),
                    _num(_over(chain), 2),
                ]
            )
    header = ["backend", "steps", "start → last end, s", "per step ms", "hand-off p50 ms"]
    header += ["p95 ms", "plain enqueue → start p50 ms", "p95 ms", "per step over p50, ms"]
    return _table(header, rows)


def checks(systems: dict[str, Any]) -> list[Check]:
    """The workflow target lines, per backend."""
    found: list[Check] = []
    for name in UNDERWAY:
        part, backend = _part(systems, name), BACKEND[name]
        found += [
            (
                f"a fan-out of 10,000 and its fan-in drain at ≥ 80% of a plain drain, {backend}",
                _ratio(part),
                "{:.0%}",
                lambda v: v >= 0.8,
            ),
            (
                f"a chain of 1,000 steps: each step ≤ {STEP_BUDGET_MS:.0f} ms over the plain "
                f"enqueue → start p50, {backend}",
                _over(part.get("chain", {})),
                "{:+.1f} ms",
                lambda v: v <= STEP_BUDGET_MS,
            ),
        ]
    return found
