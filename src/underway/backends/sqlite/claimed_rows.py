"""The jobs a SQLite claim marked running, from the columns its statement returns: the first
three (priority, run_at, seq) give the claim order, the next ones what a worker needs."""

from __future__ import annotations

from typing import Any

from ...models import ClaimedJob
from ..codecs import json_text_to_data
from ..rows import new_claimed_job


def in_claim_order(rows: list[tuple[Any, ...]]) -> None:
    """Sort rows that start with (priority, run_at, seq) into claim order."""
    rows.sort(key=_claim_order)


def claimed(
    job_id: str,
    name: str,
    args: str,
    attempt: int,
    max_attempts: int,
    rule: str | None,
    workflow_id: str | None,
    queue: str,
    due: float,
    trace_context: str | None,
) -> ClaimedJob:
    """A claimed job from the columns a claim's statement returns, as plain values."""
    return new_claimed_job(
        job_id,
        name,
        json_text_to_data(args),
        attempt,
        max_attempts,
        rule is not None,
        workflow_id,
        queue,
        due,
        trace_context,
    )


def _claim_order(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (-row[0], row[1], row[2])
