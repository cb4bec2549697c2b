"""PostgreSQL only: jobs that wait for others under concurrency (row locks keep the counts
exact), the round trips of a finish, and the plans of the statements that settle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
import pytest

from tests.backends.dependency_support import end, start, stored
from tests.backends.support import new_job
from tests.conftest import POSTGRES_URL
from tests.postgres.test_query_plans import _generic_plan
from underway.backends.postgres import PostgresBackend
from underway.backends.postgres.connection import PostgresPool
from underway.backends.postgres.dependencies import STATES_OF, UNCOUNT
from underway.backends.postgres.finish import CANCELLED, OUTCOME_TYPES, finish_statement
from underway.backends.postgres.tx import AsyncTx
from underway.backends.postgres.workflow_changes import RESET_RETRIED
from underway.models import JobState, Lease, NewJob, Outcome
from underway.workflow_models import NewWorkflow


@pytest.fixture
async def backends(pg_url: str) -> AsyncIterator[list[PostgresBackend]]:
    """Four backends on one schema, as four worker processes would have."""
    opened = [PostgresBackend(pg_url, migrate=i == 0) for i in range(4)]
    for backend in opened:
        await backend.open()
    yield opened
    for backend in opened:
        await backend.close()


def waits_for(*after: str, **overrides: Any) -> NewJob:
    return new_job(after=after, queue="then", **overrides)


async def test_a_fan_in_whose_members_end_at_once_on_four_workers_is_released_once(
    backends: list[PostgresBackend],
) -> None:
    for _ in range(5):
        members = [new_job(queue="members") for _ in range(12)]
        fan_in = waits_for(*(m.id for m in members))
        await backends[0].enqueue_many([*members, fan_in])
        leases = []
        for i in range(len(members)):
            backend = backends[i % 4]
            claimed = await backend.claim(f"w{i % 4}", ["members"], 1)
            leases.append((backend, Lease(claimed[0].id, claimed[0].attempt, f"w{i % 4}")))
        finished = await asyncio.gather(
            *(backend.finish([Outcome(lease, "completed")]) for backend, lease in leases)
        )
        assert all(held == [True] for held in finished)
        released = await stored(backends[0], fan_in)
        assert (released.state, released.waiting_on) == (JobState.PENDING, 0)
        claims = await asyncio.gather(
            *(b.claim(f"c{i}", ["then"], 5) for i, b in enumerate(backends))
        )
        assert [job.id for claimed in claims for job in claimed] == [fan_in.id]


@pytest.mark.parametrize("awaited_before", [False, True])
async def test_a_dependent_stored_as_its_dependency_ends_is_counted_either_way(
    backends: list[PostgresBackend], awaited_before: bool
) -> None:
    """The enqueue locks the dependency and marks it awaited; the finish reads the mark on
    the row it writes: whichever comes second sees what the first did. A dependency awaited
    already is finished and settled in one statement, whose settling sees the edge whose
    enqueue the finish waited for (its statements take snapshots of their own)."""
    first, second = backends[0], backends[1]
    for _ in range(30):
        dependency = new_job(queue="first")
        earlier = [waits_for(dependency.id)] if awaited_before else []
        await first.enqueue_many([dependency, *earlier])
        _, lease = await start(first, dependency)
        then = waits_for(dependency.id)
        held, _ = await asyncio.gather(
            first.finish([Outcome(lease, "completed")]), second.enqueue(then)
        )
        assert held == [True]
        found = await stored(first, then)
        assert (found.state, found.waiting_on) == (JobState.PENDING, 0)


class Calls:
    """The pool's transactions and the statements sent, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[str] = []
        for name in ("transaction", "pipelined", "statement"):
            monkeypatch.setattr(PostgresPool, name, self._counted(getattr(PostgresPool, name)))
        for name in ("rows", "run", "batch"):
            monkeypatch.setattr(AsyncTx, name, self._counted(getattr(AsyncTx, name)))

    def _counted(self, method: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(owner: Any, *args: Any, **kwargs: Any) -> Any:
            settles = isinstance(args[0], str) and ".settle(" in args[0]
            self.made.append(method.__name__ + (" and settle" if settles else ""))
            return await method(owner, *args, **kwargs)

        return counted


async def test_a_finish_of_jobs_nobody_waits_on_is_one_statement(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = PostgresBackend(pg_url)
    await backend.open()
    try:
        awaited, plain, later = new_job(queue="q"), new_job(queue="q"), new_job(queue="q")
        await backend.enqueue_many([awaited, plain, later, waits_for(awaited.id)])
        claimed = await backend.claim("w", ["q"], 3)
        leases = {c.id: Lease(c.id, c.attempt, "w") for c in claimed}
        await backend.enqueue(waits_for(later.id))  # awaited since its claim
        calls = Calls(monkeypatch)
        assert await backend.finish([Outcome(leases[plain.id], "completed")]) == [True]
        assert calls.made == ["statement", "rows"], "one statement, committed on its own"

        calls.made.clear()
        assert await backend.finish([Outcome(leases[awaited.id], "completed")]) == [True]
        assert calls.made == ["statement", "rows and settle"], "FINISH and settling at once"

        calls.made.clear()
        assert await backend.finish([Outcome(leases[later.id], "completed")]) == [True]
        assert calls.made == ["statement", "rows", "statement", "rows and settle"], "then settled"
    finally:
        await backend.close()


def _deep_table(schema: str) -> None:
    """50,000 finished jobs, and 10,000 open edges of one waiting job stored since the
    statistics were taken (a big fan-in stored at once)."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'ANALYZE "{schema}".dependencies')
        conn.execute(
            f'INSERT INTO "{schema}".jobs (id, name, queue, state, args, max_attempts, run_at, '
            "retention_s, finished_at) SELECT 'old-' || i, 'task', 'default', 'completed', "
            "'{}', 3, now(), 3600, now() FROM generate_series(1, 50000) AS i"
        )
        conn.execute(
            f'INSERT INTO "{schema}".jobs (id, name, queue, state, args, max_attempts, run_at, '
            "retention_s, waiting_on, dependency_rule) VALUES ('fan-in', 'task', 'default', "
            "'waiting', '{}', 3, now(), 3600, 10000, 'completed')"
        )
        conn.execute(
            f'INSERT INTO "{schema}".dependencies (job_id, position, dependency_id) '
            "SELECT 'fan-in', i, 'member-' || i FROM generate_series(1, 10000) AS i"
        )
        conn.execute(f'ANALYZE "{schema}".jobs')


async def test_the_statements_that_settle_stay_on_indexes_with_deep_tables(
    backends: list[PostgresBackend], pg_url: str, pg_schema: str
) -> None:
    _deep_table(pg_schema)
    finish = _generic_plan(
        pg_url,
        pg_schema,
        finish_statement(("ids",), unless_awaited=True),
        "text[], int, text, text, float8, jsonb, jsonb, bool, text, text, jsonb",
        f"'{{old-1,old-2}}', 1, 'w', 'completed', 0, 'null', NULL, false, 'f', 'w', '{CANCELLED}'",
        (*OUTCOME_TYPES, "finished_channel", "work_channel", "cancelled"),
    )
    assert "Seq Scan" not in finish, finish
    assert "Hash Join" not in finish, finish
    assert "jobs_id_key" in finish, finish
    states = _generic_plan(pg_url, pg_schema, STATES_OF, "text[]", "'{old-1,old-2}'")
    assert "Seq Scan" not in states, states
    assert "Hash Join" not in states, states
    assert "jobs_id_key" in states, states
    settle = _plans_inside(
        pg_schema,
        f"""SELECT * FROM "{pg_schema}".settle('{{old-1,member-1}}', 'DependencyFailed', 'none',
                                               'f', 'w')""",
    )
    # A hash join of the few ids settled to the edges an index found of them is no harm.
    assert "Seq Scan" not in settle, settle
    assert "Index Scan on dependencies_by_dependency" in settle, settle
    assert "jobs_id_key" in settle, settle
    # Given their states (as a finish gives them), the jobs settled are not read again: only
    # the dependent is, by its id.
    known = _plans_inside(
        pg_schema,
        f"""SELECT * FROM "{pg_schema}".settle('{{old-1,member-1}}', '{{completed,completed}}',
                                               'DependencyFailed', 'none', 'f', 'w')""",
    )
    assert "Seq Scan" not in known, known
    assert "Index Scan on dependencies_by_dependency" in known, known
    assert "on jobs j " in settle, settle
    assert "on jobs j " not in known, known


def _plans_inside(schema: str, call: str) -> str:
    """The generic plans of the statements a database function runs (auto_explain's, sent to
    this client as notices), as a connection runs them once it has run them five times;
    rolled back."""
    plans: list[str] = []
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        for setting in (
            "plan_cache_mode = force_generic_plan",
            "auto_explain.log_min_duration = 0",
            "auto_explain.log_nested_statements = on",
            "auto_explain.log_level = notice",
        ):
            conn.execute(f"SET {setting}")
        conn.execute("BEGIN")
        conn.execute(call)
        conn.execute("ROLLBACK")
    return "\n".join(plans)


async def test_a_retried_dependency_counted_at_enqueue_is_settled_when_it_ends_again(
    backends: list[PostgresBackend],
) -> None:
    """An edge stored after its dependency failed is counted at once and marks nothing;
    retrying the workflow opens it again, so the dependency must then be marked awaited."""
    backend = backends[0]
    flow = NewWorkflow("flow-1", None)
    broken = new_job(queue="first", workflow_id=flow.id)
    await backend.start_workflow(flow, [broken])
    await end(backend, broken, "failed")
    then = (await backend.enqueue(waits_for(broken.id, workflow_id=flow.id))).job
    assert then.state is JobState.CANCELLED
    retried = await backend.retry_workflow(flow.id)
    assert retried.counts == {"pending": 1, "waiting": 1}
    await end(backend, broken)
    assert (await stored(backend, then)).state is JobState.PENDING


async def test_a_workflow_retry_matches_edges_to_the_retried_ids_by_joins(
    backends: list[PostgresBackend], pg_url: str, pg_schema: str
) -> None:
    """Each of its statements matched every edge against the array of retried ids once (a
    filter `<> ALL(...)` or `= ANY(...)` on each row): 9 s for a fan-out of 10,000, where a
    join takes 0.6 s. An array may still drive an index scan."""
    _deep_table(pg_schema)
    ids = ",".join([*(f"member-{i}" for i in range(1, 10_001)), "fan-in"])
    retried = f"'{{{ids}}}'"
    for statement in (UNCOUNT, RESET_RETRIED):
        plan = _generic_plan(pg_url, pg_schema, statement, "text[]", retried, ("retried",))
        filters = [line for line in plan.splitlines() if "Filter" in line]
        assert not [line for line in filters if "ALL (" in line or "ANY (" in line], plan
