"""The worker's own machinery around jobs: outcome writes beside claims, slots freed before
outcomes are recorded, registration while the database fails, and an in-process worker
that an error ends."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import (
    App,
    JobState,
)
from underway.backends.postgres import PostgresBackend
from underway.backends.sqlite import SQLiteBackend
from underway.errors import StorageUnavailable
from underway.worker import Worker


def test_claims_overlap_outcome_writes_only_where_the_backend_allows(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL workers claim half their slots at a time (the next claim runs beside the
    previous batch's outcome write); SQLite, with one writer, claims all free slots at once.
    Either way every slot fills."""
    release = threading.Event()

    @app.job
    def hold() -> None:
        release.wait(10)

    limits: list[int] = []
    on_postgres = database_url.startswith("postgresql")
    backend_type = PostgresBackend if on_postgres else SQLiteBackend
    claim = backend_type.claim

    async def recording_claim(
        self: Any, worker_id: str, queues: Any, limit: int, names: Any = None
    ) -> Any:
        limits.append(limit)
        return await claim(self, worker_id, queues, limit, names)

    monkeypatch.setattr(backend_type, "claim", recording_claim)
    handles = [hold.enqueue() for _ in range(4)]
    app.start_worker(fast_settings(concurrency=4))
    wait_until(lambda: app.stats().counts.get("running") == 4)
    expected = 2 if on_postgres else 4
    assert limits[0] == expected
    assert max(limits) == expected
    release.set()
    for handle in handles:
        handle.result(timeout=10)


class _HeldWrites:
    """A job `quick(n)` that notes it started, with outcome writes held until `go` is set."""

    def __init__(self, app: App, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.go = threading.Event()
        self.started: list[int] = []
        self._free_slot_answers: list[int] = []
        backend_type = PostgresBackend if database_url.startswith("postgresql") else SQLiteBackend
        finish = backend_type.finish
        free_slots = Worker._free_slots

        async def held_finish(backend: Any, outcomes: Any) -> Any:
            await asyncio.to_thread(self.go.wait, 10)
            return await finish(backend, outcomes)

        def recorded_free_slots(worker: Worker) -> int:
            self._free_slot_answers.append(free_slots(worker))
            return self._free_slot_answers[-1]

        monkeypatch.setattr(backend_type, "finish", held_finish)
        monkeypatch.setattr(Worker, "_free_slots", recorded_free_slots)

        @app.job
        def quick(n: int) -> int:
            self.started.append(n)
            return n

        self.quick = quick

    def wait_until_no_room_is_found(self) -> None:
        """Until the claim loop has looked again three times and found no free slot."""
        seen = len(self._free_slot_answers)
        wait_until(lambda: self._free_slot_answers[seen:].count(0) >= 3)


def test_a_slot_is_free_once_the_code_returns_but_unrecorded_jobs_are_capped(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next jobs start while the last ones' outcomes are still being written; the worker
    holds at most one claim batch of unrecorded jobs beyond its concurrency."""
    held_writes = _HeldWrites(app, database_url, monkeypatch)
    handles = [held_writes.quick.enqueue(n) for n in range(6)]
    running = app.start_worker(fast_settings(concurrency=2))
    held = running.worker.max_held  # 2 + a claim batch: 3 on PostgreSQL, 4 on SQLite
    assert held > 2
    # Jobs returned and wait for their writes, and more ran in the slots they freed.
    wait_until(lambda: len(held_writes.started) == held)
    held_writes.wait_until_no_room_is_found()
    assert sorted(held_writes.started) == list(range(held))
    assert [handle.state for handle in handles[held:]] == [JobState.PENDING] * (6 - held)
    held_writes.go.set()
    assert [handle.result(timeout=10) for handle in handles] == list(range(6))


def test_a_worker_of_concurrency_one_starts_a_job_once_the_last_outcome_is_stored(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One job at a time from claim to recorded outcome: a crash re-runs at most one job."""
    held_writes = _HeldWrites(app, database_url, monkeypatch)
    handles = [held_writes.quick.enqueue(n) for n in range(3)]
    running = app.start_worker(fast_settings(concurrency=1))
    assert running.worker.max_held == 1
    wait_until(lambda: held_writes.started == [0])
    held_writes.wait_until_no_room_is_found()
    assert held_writes.started == [0]
    held_writes.go.set()
    assert [handle.result(timeout=10) for handle in handles] == [0, 1, 2]
    assert held_writes.started == [0, 1, 2]


def test_a_worker_retries_registering_while_the_database_fails(
    app: App, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection killed as the worker starts fails its first heartbeat: it retries."""
    backend_type = PostgresBackend if database_url.startswith("postgresql") else SQLiteBackend
    heartbeat = backend_type.heartbeat
    failures = [StorageUnavailable("connection killed"), StorageUnavailable("killed again")]

    async def failing_at_first(self: Any, worker: Any, leases: Any) -> Any:
        if failures:
            raise failures.pop()
        return await heartbeat(self, worker, leases)

    @app.job
    def quick() -> int:
        return 1

    monkeypatch.setattr(backend_type, "heartbeat", failing_at_first)
    handle = quick.enqueue()
    app.start_worker(fast_settings())
    assert handle.result(timeout=10) == 1
    assert failures == []


def test_an_in_process_worker_ended_by_an_error_says_so_at_once(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.lifespan
    async def resources(app: App) -> Any:
        raise RuntimeError("the pool cannot open")
        yield

    caplog.set_level(logging.ERROR, logger="underway.worker")
    worker = app.start_worker(fast_settings())

    wait_until(lambda: "stopped by an error" in caplog.text, timeout=10)
    assert "the pool cannot open" in caplog.text
    with pytest.raises(RuntimeError, match="the pool cannot open"):
        worker.stop()
