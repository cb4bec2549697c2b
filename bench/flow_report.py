"""The flow-control part of RESULTS.md: its tables and its target lines (bench/flow_cases.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UNDERWAY = ("underway-sqlite", "underway-postgresql")
BACKEND = {"underway-sqlite": "SQLite", "underway-postgresql": "PostgreSQL"}
#: The drains set beside the plain one, with what each holds.
DRAINS = (
    ("rate_keys", "1,000 rate keys, limits not reached"),
    ("lane_keys", "1,000 concurrency keys, limits not reached"),
    ("half_at_limit", "half the keys at their rate limit, the others'"),
    ("paused_backlog", "beside a paused queue's backlog"),
)
Check = tuple[str, float | None, str, Callable[[float], bool]]


def _num(value: Any, digits: int = 0) -> str:
    if not isinstance(value, int | float) or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def _flow(systems: dict[str, Any], name: str) -> dict[str, Any]:
    found = systems.get(name, {}).get("flow", {})
    return found if isinstance(found, dict) else {}


def _ratio(drain: dict[str, Any], case: str) -> float | None:
    """The median of the rounds' ratios to their own plain drain; for results measured
    before those were kept, the ratio of the medians."""
    if (each := drain.get(case, {}).get("of_plain")) is not None:
        return float(each)
    plain, other = drain.get("plain", {}).get("rate"), drain.get(case, {}).get("rate")
    return other / plain if plain and other else None


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def measured_apart(measured: dict[str, Any] | None, only: str) -> str:
    """When a section was measured by `bench.run --only {only}` apart from the page."""
    if not measured:
        return ""
    quick = " in quick mode" if measured.get("quick") else ""
    command = f"`python -m bench.run --only {only}`{quick}"
    probe = measured.get("cpu_probe_ms")
    speed = (
        f" The machine's CPU probe (`bench.run.cpu_probe_ms`, a fixed pure-Python loop)"
        f" read {probe} ms then: this machine kind has run the same code up to 3 times"
        f" slower at some hours than at others, so figures measured at different probe"
        f" readings compare only as ratios."
        if probe
        else ""
    )
    return f"Measured {measured['date']} with {command}, apart from the rest of this page.{speed}\n"


def section(systems: dict[str, Any], measured: dict[str, Any] | None) -> str:
    """The flow-control section: rate limit accuracy, the cost of limits, pausing."""
    when = measured_apart(measured, "flow")
    return "\n".join(
        [
            "## Flow control (underway)\n",
            when,
            "### Rate limit accuracy\n",
            '4 worker processes; `rate_limit="50/second"` with `rate_key` an argument, 10 '
            "keys with 300 jobs each (6 s of work per key at the limit). Each job notes the "
            "wall-clock time its code starts; per key, from those times: the most starts in "
            "any 1 s (the sliding window's), the same in windows 50 ms shorter, and the most in "
            "one second of the clock (the fixed window's); and the rate the key got while it "
            "had work: sliding, its starts after the first 50 over the time from its first "
            "start to its last; fixed, its mean starts per clock second between the seconds "
            "of its first and its last start (a limiter that starts 50 whenever the window "
            "lets it measures 50 either way). "
            "Claim → start: from the claim time the job's row holds, which is the time the "
            "limit counts the start at, to the code's start.\n",
            _accuracy(systems),
            "A start counts 50 ms beyond its sliding window, and in the next fixed window too "
            "when claimed in a window's last 50 ms: a job's code starts after its claim (the "
            "claim → start delay above). Without that margin, on 2026-12-04, PostgreSQL's "
            "fixed window started 60 to 80 in a clock second, and once idle workers claimed "
            "the moment a key's next start was due, sliding windows held 60 to 70 starts in "
            "one second of the jobs' own start times; the margin is why a sliding key gets "
            "about 47 of its 50 a second.\n",
            "### What limits cost a drain (jobs/s, one worker)\n",
            "Each drain compared with the plain one runs beside a plain drain of its own "
            "(just before it in odd rounds, just after it in even ones), in each of "
            f'{_rounds(systems)} rounds (medians); each "of plain" is the median of the '
            "ratios to the paired plain drain. Plain: 20,000 no-op "
            "jobs over 1,000 keys, no limit. Rate "
            'keys: the same with `rate_limit="100/second", rate_key="key"` (20 jobs per '
            'key). Concurrency keys: `concurrency=1000, concurrency_key="key"`. Half the keys '
            "at their limit: 500 keys of a job limited to 1 start per hour made theirs and hold "
            "20 jobs each back (10,000, ahead in claim order), which the claims that met "
            "their full keys parked; then 20,000 rate-key jobs of the other 500 keys are "
            "queued and timed until all are done. Paused backlog: the "
            "worker also serves a paused queue holding 100,000 jobs (queued first).\n",
            _drains(systems),
            "Storing them: the same jobs, `enqueue_many` in chunks of 10,000 (jobs/s; "
            "medians of the runs); and, stored only, 20,000 requests over the 1,000 keys of "
            'a `unique="queue", queue_limit=100` job (all stored) and of a `unique="join"` '
            "job (1,000 stored, the others join them).\n",
            _stores(systems),
            "### Every key at its limit\n",
            "One worker; 2,000 keys of a job limited to 4 starts per 2 s (sliding), 16 jobs "
            "each, the keys taking turns in enqueue order, so that a key's starts fall in "
            "different claims and its slots open one at a time, each found full and held or "
            "parked until the next. Pace: the starts after each key's first 4 (which may "
            "start at once) per second of the drain, as a share of the 4,000 a second the "
            "limits allow; a little under 100% is ideal, as each start counts 50 ms beyond "
            "its window (medians of the rounds).\n",
            _saturated(systems),
            "### Pausing a queue\n",
            "3 worker processes busy with the queue's jobs (0.1 to 1 s each, so claims keep "
            "coming); `app.pause_queue` is called, then, 1.5 s later, `app.resume_queue`, "
            "and every worker starts jobs again before the next pause. Time from the call to "
            "the last start in the queue, and the starts later than the call's return.\n",
            _pauses(systems),
        ]
    )


def _accuracy(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        for window, data in _flow(systems, name).get("accuracy", {}).items():
            rows.append(
                [
                    BACKEND[name],
                    window,
                    _num(data.get("jobs")),
                    _num(data.get("max_per_second")),
                    _num(data.get("max_per_second_less_dispatch")),
                    _num(data.get("max_per_clock_second")),
                    _num(data.get("min_key_rate"), 1),
                    _num(data.get("mean_key_rate"), 1),
                    _num(data.get("claim_to_start_ms_p50"), 1),
                    _num(data.get("claim_to_start_ms_max"), 1),
                ]
            )
    header = ["backend", "window", "jobs", "most in 1 s", "most in 0.95 s", "most in a clock s"]
    header += ["key rate min /s", "key rate mean /s", "claim → start p50 ms", "max ms"]
    return _table(header, rows)


def _rounds(systems: dict[str, Any]) -> str:
    """How many rounds the drains ran in (the most of the two backends')."""
    return str(max(_flow(systems, name).get("drain_rounds", 3) for name in UNDERWAY))


def _drains(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        drain = _flow(systems, name).get("drain", {})
        if drain:
            cells = [BACKEND[name], _num(drain.get("plain", {}).get("rate"))]
            for case, _ in DRAINS:
                ratio = _ratio(drain, case)
                cells += [_num(drain.get(case, {}).get("rate")), _num(ratio and ratio * 100) + "%"]
            rows.append(cells)
    header = ["backend", "plain"]
    for _, label in DRAINS:
        header += [label, "of plain"]
    return _table(header, rows)


#: The drains whose jobs' storing is timed, with what their jobs carry.
STORES = (
    ("plain", "plain"),
    ("rate_keys", "rate keys"),
    ("lane_keys", "concurrency keys"),
    ("bounded_queue", "bounded queue"),
    ("joined", "join"),
)


def _stores(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        drain = _flow(systems, name).get("drain", {})
        if drain:
            cells = [_num(drain.get(case, {}).get("store_rate")) for case, _ in STORES]
            rows.append([BACKEND[name], *cells])
    return _table(["backend", *(label for _, label in STORES)], rows)


def _saturated(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        saturated = _flow(systems, name).get("drain", {}).get("saturated", {})
        if saturated:
            pace = saturated.get("pace")
            cells = [_num(saturated.get("rate")), _num(saturated.get("allowed"))]
            rows.append([BACKEND[name], *cells, _num(pace and pace * 100) + "%"])
    return _table(["backend", "jobs/s, first to last", "starts/s allowed", "pace"], rows)


def _pauses(systems: dict[str, Any]) -> str:
    rows = []
    for name in UNDERWAY:
        pause = _flow(systems, name).get("pause", {})
        if pause:
            rows.append(
                [
                    BACKEND[name],
                    _num(pause.get("workers")),
                    _num(pause.get("pauses")),
                    _num(pause.get("max_ms"), 1),
                    _num(pause.get("mean_ms"), 1),
                    _num(pause.get("starts_after_pause_returned")),
                    "yes" if pause.get("all_busy") else "**no**",
                ]
            )
    header = ["backend", "workers", "pauses", "pause → last start, max ms", "mean ms"]
    header += ["starts after the call returned", "every worker busy at each pause"]
    return _table(header, rows)


def checks(systems: dict[str, Any]) -> list[Check]:
    """The flow-control target lines, per backend."""
    found: list[Check] = []
    for name in UNDERWAY:
        flow, backend = _flow(systems, name), BACKEND[name]
        accuracy, drain, pause = (
            flow.get("accuracy", {}),
            flow.get("drain", {}),
            flow.get("pause", {}),
        )
        sliding, fixed = accuracy.get("sliding", {}), accuracy.get("fixed", {})
        found += [
            (
                f"rate limit 50/s sliding: no 1 s of a key holds more than 50 starts, {backend}",
                sliding.get("max_per_second"),
                "{:.0f} at most",
                lambda v: v <= 50,
            ),
            (
                f"rate limit 50/s sliding: each key gets ≥ 90% of it while it has work, {backend}",
                sliding.get("min_key_rate"),
                "{:.1f}/s (slowest key)",
                lambda v: v >= 45,
            ),
            (
                f"rate limit 50/s fixed: no clock second of a key holds more than 50, {backend}",
                fixed.get("max_per_clock_second"),
                "{:.0f} at most",
                lambda v: v <= 50,
            ),
            (
                f"rate limit 50/s fixed: each key gets ≥ 90% of it while it has work, {backend}",
                fixed.get("min_key_rate"),
                "{:.1f}/s (slowest key)",
                lambda v: v >= 45,
            ),
        ]
        for case, label in DRAINS[:3]:
            found.append(
                (
                    f"{label} drain at ≥ 80% of the plain drain, {backend}",
                    _ratio(drain, case),
                    "{:.0%}",
                    lambda v: v >= 0.8,
                )
            )
        found += [
            (
                f"a pause takes effect on every worker within 1 s, {backend}",
                pause.get("max_ms") if pause.get("all_busy") else None,
                "{:.0f} ms",
                lambda v: v <= 1000,
            ),
            (
                "a paused backlog of 100,000 costs another queue's drain nothing measurable "
                f"(≥ 95% of plain), {backend}",
                _ratio(drain, "paused_backlog"),
                "{:.0%}",
                lambda v: v >= 0.95,
            ),
        ]
    return found
