"""Rules both dialects apply, written once: which states are active, how a set of states is
written in SQL, and why a job cancelled on request ended."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from ..models import ACTIVE_STATES, JobState

#: The active states (they still count for uniqueness and overlap) as a SQL list, for
#: `state IN ...`; sorted, so that the statement's text is the same in every process.
ACTIVE = "(" + ", ".join(sorted(f"'{state.value}'" for state in ACTIVE_STATES)) + ")"
#: Laned jobs a claim looks at first, in claim order; more only if these give too few.
LANE_SCAN = 500


class ClaimRow(Protocol):
    """A ready job's row as a claim reads it (a PostgreSQL dict or a sqlite3.Row)."""

    def __getitem__(self, key: str) -> Any: ...


def claim_order(row: ClaimRow) -> tuple[Any, ...]:
    """The order claims take ready jobs in: priority first (highest), then run_at, then seq."""
    return (-row["priority"], row["run_at"], row["seq"])


#: The message recorded when a cancel request ends an attempt.
CANCELLED_BY_REQUEST = "cancelled by request"

#: Faster than calling the enum (this runs for every claimed job).
STATES = {state.value: state for state in JobState}


def state_condition(states: Iterable[JobState]) -> str:
    """`(state = 'a' OR state = 'b')` with the states written out, not bound, so that both
    backends' planners can use the partial indexes whose condition names them."""
    written = " OR ".join(f"state = '{JobState(state).value}'" for state in states)
    return f"({written})"
