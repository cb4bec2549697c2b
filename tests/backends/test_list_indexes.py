"""Listing by a state that few jobs are in reads an index, not the table, on every backend.

The states are written into the query (`state_condition`) so that each planner can match them
to the partial indexes; a bound parameter hides them, and the listing then read every row.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from underway.backends.base import Backend
from underway.backends.policy import state_condition
from underway.backends.postgres.connection import parse_postgres_url
from underway.backends.sqlite import SQLiteBackend
from underway.models import JobState

from .flow_rows import sqlite_connection
from .support import new_job

#: SQLite keeps one index for every state but pending and completed.
SQLITE_INDEX = "underway_jobs_state_except_pending_completed"
#: The states listed, and the PostgreSQL index that listing them must read.
FEW = [
    ((JobState.FAILED,), "jobs_failed_cancelled_skipped"),
    ((JobState.FAILED, JobState.CANCELLED), "jobs_failed_cancelled_skipped"),
    ((JobState.SKIPPED,), "jobs_failed_cancelled_skipped"),
    ((JobState.RUNNING,), "jobs_running"),
    ((JobState.SCHEDULED,), "jobs_scheduled"),
]

#: Most rows completed, a few in each other state, as a table in use looks.
SHAPE = """
UPDATE {jobs} SET state = CASE
    WHEN seq % 500 = 1 THEN 'failed' WHEN seq % 500 = 2 THEN 'cancelled'
    WHEN seq % 500 = 3 THEN 'skipped' WHEN seq % 500 = 4 THEN 'running'
    WHEN seq % 500 = 5 THEN 'scheduled' WHEN seq % 500 = 6 THEN 'pending'
    ELSE 'completed' END
"""


def listing(jobs: str, states: tuple[JobState, ...]) -> str:
    return f"SELECT * FROM {jobs} WHERE {state_condition(states)} ORDER BY seq DESC LIMIT 50"


def test_states_are_written_out_and_only_known_states_are_accepted() -> None:
    assert state_condition([JobState.FAILED]) == "(state = 'failed')"
    assert state_condition([JobState.FAILED, JobState.SKIPPED]) == (
        "(state = 'failed' OR state = 'skipped')"
    )
    with pytest.raises(ValueError, match="is not a valid JobState"):
        state_condition(["failed' OR 1=1 --"])  # type: ignore[list-item]


def plan_of(backend: Backend, backend_url: str, states: tuple[JobState, ...]) -> str:
    """The plan of a listing by `states` over a table shaped by SHAPE."""
    if isinstance(backend, SQLiteBackend):  # the memory backend too: SQLite in memory
        with sqlite_connection(backend) as conn:
            conn.execute(SHAPE.replace("{jobs}", "underway_jobs"))
            conn.execute("ANALYZE")
            rows = conn.execute("EXPLAIN QUERY PLAN " + listing("underway_jobs", states))
            return " | ".join(row[3] for row in rows)
    jobs = f"{parse_postgres_url(backend_url).schema}.jobs"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(SHAPE.replace("{jobs}", jobs))
        conn.execute(f"VACUUM ANALYZE {jobs}")
        return " | ".join(str(row[0]) for row in conn.execute("EXPLAIN " + listing(jobs, states)))


@pytest.mark.parametrize(("states", "postgres_index"), FEW)
async def test_few_states_are_listed_through_an_index(
    backend: Backend, backend_url: str, states: tuple[JobState, ...], postgres_index: str
) -> None:
    for _ in range(5):
        await backend.enqueue_many([new_job() for _ in range(1000)])

    plan = plan_of(backend, backend_url, states)

    expected = SQLITE_INDEX if isinstance(backend, SQLiteBackend) else postgres_index
    assert expected in plan, plan
