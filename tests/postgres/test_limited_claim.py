"""PostgreSQL only: the limited claim's one round trip reckons a start's expiry in SQL, as
`claiming.start_expiry` does in Python; a burst is not ended by a row its claim skipped."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.waiting import wait_until
from underway import App, JobState
from underway.backends import claiming
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.claim_lock import LOCK_AND_NOW
from underway.backends.postgres.limited_claim import CLAIM, claim_params
from underway.models import Job
from underway.testing import drain

#: (now, window, fixed): sliding windows, and fixed ones claimed well before, just inside and
#: just outside the margin before the window's end, and with windows shorter than the margin
#: allows.
CASES = [
    (1000.0, 1.0, False),
    (1000.37, 60.0, False),
    (1000.1, 0.1, False),
    (1000.2, 1.0, True),
    (1000.96, 1.0, True),
    (1000.94, 1.0, True),
    (1000.99, 0.1, True),
    (3599.97, 3600.0, True),
]


@pytest.mark.parametrize(("now", "window_s", "fixed"), CASES)
async def test_the_sql_start_expiry_is_the_python_one(
    pg: PostgresBackend, pg_schema: str, now: float, window_s: float, fixed: bool
) -> None:
    statement = (
        f'SELECT "{pg_schema}".start_expiry(%(now)s::float8, %(window)s::float8, %(fixed)s,'
        " %(dispatch)s::float8, %(share)s::float8)"
    )
    params = {
        "now": now,
        "window": window_s,
        "fixed": fixed,
        "dispatch": claiming.DISPATCH_S,
        "share": claiming.DISPATCH_SHARE,
    }
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        row = conn.execute(statement, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    assert row[0] == pytest.approx(claiming.start_expiry(now, window_s, fixed), abs=1e-9)


async def test_the_claim_of_limited_jobs_waits_for_the_lock_the_ranked_claim_holds(
    pg: PostgresBackend, pg_schema: str
) -> None:
    """Both claims of limited jobs take one lock, so that neither counts starts or running
    lanes that the other is about to change."""
    claim = CLAIM.replace("{schema}", f'"{pg_schema}"')
    params = claim_params(pg_schema, "w", ["default"], 10, [])
    with psycopg.connect(POSTGRES_URL, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute(LOCK_AND_NOW, {"schema": pg_schema, "plans": "force_generic_plan"})
        with psycopg.connect(POSTGRES_URL, autocommit=True) as claimer:
            claimer.execute("SET statement_timeout = '300ms'")
            with pytest.raises(psycopg.errors.QueryCanceled):
                claimer.execute(claim, params)
        holder.execute("ROLLBACK")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as claimer:
        verdict = claimer.execute(claim, params).fetchall()
    assert [row[0] for row in verdict] == ["verdict"]


def test_a_drain_does_not_end_while_a_due_job_is_held_by_another_transaction(
    pg_url: str, pg_schema: str
) -> None:
    """A claim skips a row another transaction holds (FOR UPDATE SKIP LOCKED), as a heartbeat
    waiting behind a finish holds it: the drain claims again instead of ending."""
    app = App(pg_url)
    try:

        @app.job
        def noop() -> None: ...

        handle = noop.enqueue()
        probes: list[bool] = []
        backend = app.runtime.call(app.backend())
        plain_due = backend.plain_due

        async def counted(*args: Any) -> bool:
            probes.append(await plain_due(*args))
            return probes[-1]

        backend.plain_due = counted  # type: ignore[method-assign]
        with psycopg.connect(POSTGRES_URL) as locker:
            locker.execute(
                f'SELECT 1 FROM "{pg_schema}".jobs WHERE id = %s FOR UPDATE', (handle.id,)
            )
            drained: list[list[Job]] = []
            thread = threading.Thread(target=lambda: drained.append(drain(app)))
            thread.start()
            wait_until(lambda: bool(probes), timeout=10)
            locker.commit()
        thread.join(timeout=10)

        assert probes[0] is True
        assert [job.state for job in drained[0]] == [JobState.COMPLETED]
    finally:
        app.close()
