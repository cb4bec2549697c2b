"""The memory backend runs each transaction in the thread that asks for it, not in a thread
of its own (a database in RAM waits for no disk), and callers of other threads share the
connection with the app's loop safely."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import App
from underway.testing import drain

THREADS = 4
PER_THREAD = 100


def add(a: int, b: int) -> int:
    return a + b


def sqlite_threads() -> set[threading.Thread]:
    """The SQLite connection threads alive in this process (other tests' may be ending)."""
    return {t for t in threading.enumerate() if t.name.startswith("underway-sqlite")}


def test_a_memory_apps_transactions_run_in_the_threads_that_ask_for_them(tmp_path: Path) -> None:
    before = sqlite_threads()
    with App(f"sqlite:///{tmp_path / 'jobs.db'}") as on_file:
        on_file.job(add).enqueue(a=1, b=2)
        assert sqlite_threads() - before, "a file's transactions run in a thread of its own"

    before = sqlite_threads()
    with App("memory://") as app:
        handle = app.job(add).enqueue(a=1, b=2)
        drain(app)

        assert handle.result(timeout=0) == 3
        assert sqlite_threads() <= before, "the memory app started a thread of its own"


def test_callers_of_other_threads_and_a_worker_share_the_connection_safely() -> None:
    with App("memory://") as app:
        job = app.job(add)
        app.start_worker(fast_settings(concurrency=20))

        def enqueue_some(thread: int) -> list[str]:
            return [job.enqueue(a=thread, b=n).id for n in range(PER_THREAD)]

        with ThreadPoolExecutor(THREADS) as pool:
            ids = [i for some in pool.map(enqueue_some, range(THREADS)) for i in some]

        def all_completed() -> bool:
            return app.stats().counts.get("completed", 0) == THREADS * PER_THREAD

        wait_until(all_completed, timeout=30, what="every job completed")
        jobs = [app.get(job_id) for job_id in ids]
        assert len(set(ids)) == THREADS * PER_THREAD
        assert all(j is not None and j.attempt == 1 for j in jobs), "each ran once"
        assert sorted(j.result for j in jobs if j is not None) == sorted(
            t + n for t in range(THREADS) for n in range(PER_THREAD)
        )
