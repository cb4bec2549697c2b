"""The dashboard part of RESULTS.md: every page's server time over 1,000,000 jobs, and its
target lines (bench/dashboard_cases.py)."""

from __future__ import annotations

from typing import Any

from .dashboard_cases import TARGET_MS, pages
from .flow_report import BACKEND, UNDERWAY, Check, _num, _table, measured_apart


def _part(systems: dict[str, Any], name: str) -> dict[str, Any]:
    found = systems.get(name, {}).get("dashboard", {})
    return found if isinstance(found, dict) else {}


def section(systems: dict[str, Any], measured: dict[str, Any] | None) -> str:
    """Each page's median server time on SQLite and PostgreSQL, with how the table was filled."""
    parts = {name: _part(systems, name) for name in UNDERWAY}
    rows = [
        [
            page,
            url.replace("|", "\\|"),
            *[_num(parts[n].get("pages_ms", {}).get(page), 1) for n in UNDERWAY],
        ]
        for page, url in pages("ID").items()
    ]
    sizes = [
        f"{BACKEND[n]}: {_num(parts[n].get('rows'))} jobs stored in "
        f"{_num(parts[n].get('fill_s'), 1)} s, folded into the history by the rollup in "
        f"{_num(parts[n].get('rollup_s'), 1)} s ({_num(parts[n].get('folded'))} finished jobs)"
        for n in UNDERWAY
        if parts[n]
    ]
    return "\n".join(
        [
            "## Dashboard over 1,000,000 jobs (underway)\n",
            measured_apart(measured, "dashboard"),
            "The jobs table filled in bulk with SQL: jobs created over the last week, 85% "
            "completed, 6% failed (with an error and traceback), 2% cancelled, 3% pending (a "
            "week's backlog in a queue no worker serves, so the alerts fire), 2% scheduled, "
            "2% skipped, one in 5,000 running under three registered workers; twelve job "
            "names in four queues, arguments with an order id and an e-mail address. Then "
            "the history's rollup, run until it has folded every finished job, and each "
            "page's server time: the median of 5 requests after one warm-up, in-process "
            "(Starlette's test client, rendering included, no network), on an app with no "
            f"worker. Target: under {TARGET_MS:.0f} ms each.\n",
            "; ".join(sizes) + ".\n" if sizes else "",
            _table(["page", "URL", "SQLite (ms)", "PostgreSQL (ms)"], rows),
        ]
    )


def checks(systems: dict[str, Any]) -> list[Check]:
    """One target line per backend: the slowest page under the target."""
    found: list[Check] = []
    for name in UNDERWAY:
        timings = _part(systems, name).get("pages_ms", {})
        slowest = max(timings, key=timings.get, default=None) if timings else None
        found.append(
            (
                f"every dashboard page under {TARGET_MS:.0f} ms over 1M jobs, {BACKEND[name]} "
                f"(slowest: {slowest or '-'})",
                timings.get(slowest) if slowest else None,
                "{:.0f} ms",
                lambda v: v < TARGET_MS,
            )
        )
    return found
