"""SQLite's log of rate starts against a model of it (a list of expiries per key): whatever
order starts are recorded and settled in, each key counts its live starts and knows when the
oldest of them expires; and migration 0013 moves a database's starts into it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.backends.support import WORKER, new_job
from tests.migrations_before import sqlite_before
from underway.backends.base import SystemClock
from underway.backends.claiming import RateStart
from underway.backends.sqlite import SQLiteBackend, migrate, rate_starts

KEYS = ("a", "b", "c")
BEFORE = "0013_rate_log"


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate.apply_migrations(conn)
    yield conn
    conn.close()


class Model:
    """Each key's live starts as a list of expiries, with the rule for starts that would
    expire a little before the key's newest."""

    def __init__(self) -> None:
        self.starts: dict[str, list[float]] = {}
        self.newest: dict[str, float] = {}

    def record(self, key: str, expiry: float, n: int) -> None:
        newest = self.newest.get(key)
        if newest is not None and newest - rate_starts.ORDER_SLACK_S <= expiry < newest:
            expiry = newest
        self.starts.setdefault(key, []).extend([expiry] * n)
        self.newest[key] = max(expiry, newest if newest is not None else expiry)

    def settle(self, now: float) -> None:
        for key in list(self.starts):
            self.starts[key] = [at for at in self.starts[key] if at > now]
            if not self.starts[key]:
                del self.starts[key], self.newest[key]


#: One step: record starts (key, expiry offset from the step's time, how many), or let time
#: pass and settle some or all of what expired.
RECORD = st.tuples(
    st.just("record"),
    st.lists(
        st.tuples(
            st.sampled_from(KEYS),
            # Mostly in order; sometimes a little before the newest, sometimes well before.
            st.one_of(st.floats(0.0, 5.0), st.floats(-0.04, 0.0), st.floats(-3.0, 0.0)),
            st.integers(1, 3),
        ),
        min_size=1,
        max_size=4,
    ),
)
SETTLE = st.tuples(st.just("settle"), st.floats(0.0, 3.0), st.sampled_from([-1, 1, 2]))


@settings(max_examples=600, deadline=None)
@given(steps=st.lists(st.one_of(RECORD, SETTLE), max_size=25))
def test_counts_and_oldest_match_the_model(steps: list[tuple[object, ...]]) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate.apply_migrations(conn)
    model, now = Model(), 100.0
    try:
        for step in steps:
            if step[0] == "record":
                rate_starts.settle(conn, now)
                model.settle(now)
                for key, offset, n in step[1]:  # type: ignore[attr-defined]
                    base = model.newest.get(key, now + 1.0)
                    expiry = base + offset
                    rate_starts.record(conn, [RateStart(key, expiry)] * n)
                    model.record(key, expiry, n)
            else:
                _, passed, most = step
                now += float(passed)  # type: ignore[arg-type]
                if most == -1:
                    rate_starts.settle(conn, now)
                    model.settle(now)
                else:
                    rate_starts.settle(conn, now, int(most))  # type: ignore[call-overload]
            for key in KEYS:
                live = sorted(at for at in model.starts.get(key, []) if at > now)
                assert rate_starts.live(conn, key, now) == len(live), key
                positions = [rate_starts.expiry_at(conn, key, now, i) for i in range(len(live))]
                assert positions == live, key
            rate_starts.settle(conn, now)
            model.settle(now)
            rows = conn.execute("SELECT key, starts, oldest FROM underway_rate_keys ORDER BY key")
            expected = [(k, len(v), min(v)) for k, v in sorted(model.starts.items())]
            assert [tuple(row) for row in rows] == expected
    finally:
        conn.close()


def test_a_start_a_little_early_counts_until_the_keys_newest(conn: sqlite3.Connection) -> None:
    """Claims read the time before they wait for the write lock: a start recorded after one
    that expires a few ms later keeps the key's rows in order, counted that much longer."""
    rate_starts.record(conn, [RateStart("a", 10.0)])
    rate_starts.record(conn, [RateStart("a", 9.99), RateStart("b", 9.99)])
    assert rate_starts.expiry_at(conn, "a", 0.0, 1) == 10.0
    assert rate_starts.expiry_at(conn, "b", 0.0, 0) == 9.99
    assert conn.execute("SELECT sum(disordered) FROM underway_rate_keys").fetchone()[0] == 0


def test_a_key_whose_window_shrank_finds_its_oldest_by_reading_the_log(
    conn: sqlite3.Connection,
) -> None:
    rate_starts.record(conn, [RateStart("a", 60.0)])
    rate_starts.record(conn, [RateStart("a", 1.0)])
    rate_starts.record(conn, [RateStart("a", 2.0)])
    assert rate_starts.settle(conn, 1.5) == 1
    assert conn.execute("SELECT starts, oldest, disordered FROM underway_rate_keys").fetchall() == [
        (2, 2.0, 1)
    ]
    rate_starts.settle(conn, 60.0)
    assert conn.execute("SELECT count(*) FROM underway_rate_keys").fetchone()[0] == 0


def test_a_disordered_key_is_linked_again_once_its_rows_are_in_order(
    conn: sqlite3.Connection,
) -> None:
    """A key that never runs out of starts (the wall clock stepped back, or its window
    changed) reads the log only until its early start is spent."""
    rate_starts.record(conn, [RateStart("a", 60.0)])
    rate_starts.record(conn, [RateStart("a", 1.0)])
    rate_starts.record(conn, [RateStart("a", 61.0)])
    rate_starts.settle(conn, 1.5)
    keys = "SELECT starts, oldest, disordered FROM underway_rate_keys"
    assert conn.execute(keys).fetchall() == [(2, 60.0, 0)]
    rate_starts.record(conn, [RateStart("a", 62.0)])
    rate_starts.settle(conn, 60.5)
    assert conn.execute(keys).fetchall() == [(2, 61.0, 0)]


def test_a_key_linked_again_links_its_next_start_after_its_last_row(
    conn: sqlite3.Connection,
) -> None:
    """The start that made the key disordered was its newest when it was spent first: the
    key's next start links to the last of its rows left, not to that one."""
    rate_starts.record(conn, [RateStart("a", 10.0)])
    rate_starts.record(conn, [RateStart("a", 5.0)])
    rate_starts.settle(conn, 6.0)
    rate_starts.record(conn, [RateStart("a", 11.0)])
    rate_starts.settle(conn, 10.5)
    keys = "SELECT starts, oldest, disordered FROM underway_rate_keys"
    assert conn.execute(keys).fetchall() == [(1, 11.0, 0)]


async def test_migration_moves_each_keys_starts_in_expiry_order(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    sqlite_before(path, BEFORE)
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO underway_rate_starts (key, expires_at) VALUES (?, ?)",
            [("a", 4e9 + 50), ("b", 1.0), ("a", 4e9 + 20), ("a", 2.0)],
        )
    conn.close()
    backend = SQLiteBackend(f"sqlite:///{path}", clock=SystemClock())
    await backend.open()
    try:
        with sqlite3.connect(path) as conn:
            keys = conn.execute("SELECT key, starts, oldest FROM underway_rate_keys ORDER BY key")
            assert keys.fetchall() == [("a", 3, 2.0), ("b", 1, 1.0)]
        conn.close()
        # Two live starts under a limit of 2: the key's jobs wait until one expires, which
        # the claim (having settled the spent ones) knows.
        job = new_job(rate_key="a", rate_limit=2, rate_window_s=60.0)
        await backend.enqueue_many([job])
        assert await backend.claim(WORKER, ["default"], 5) == []
        with sqlite3.connect(path) as conn:
            keys = conn.execute("SELECT key, starts, oldest FROM underway_rate_keys")
            assert keys.fetchall() == [("a", 2, 4e9 + 20)]
        conn.close()
    finally:
        await backend.close()
