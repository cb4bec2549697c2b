"""Rules both dialects apply, written once: which states are active, how a set of states is
written in SQL, and why a job cancelled on request ended."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import JobState

#: A job in these states still counts for uniqueness and overlap: it may yet run.
ACTIVE_STATES = (JobState.SCHEDULED, JobState.PENDING, JobState.RUNNING)
#: ACTIVE_STATES as a SQL list, for `state IN ...`.
ACTIVE = "(" + ", ".join(f"'{state.value}'" for state in ACTIVE_STATES) + ")"
#: The message recorded when a cancel request ends an attempt.
CANCELLED_BY_REQUEST = "cancelled by request"

#: Faster than calling the enum (this runs for every claimed job).
STATES = {state.value: state for state in JobState}


def state_condition(states: Iterable[JobState]) -> str:
    """`(state = 'a' OR state = 'b')` with the states written out, not bound, so that both
    backends' planners can use the partial indexes whose condition names them."""
    written = " OR ".join(f"state = '{JobState(state).value}'" for state in states)
    return f"({written})"
