"""A worker and an enqueue started together on a new SQLite file must both get through."""

from __future__ import annotations

import threading
from pathlib import Path

from underway import App

ROUNDS = 100
OPENERS = 3


def open_together(path: Path) -> list[Exception]:
    """Open (and so migrate) one new file from several apps at the same moment."""
    errors: list[Exception] = []
    barrier = threading.Barrier(OPENERS)

    def open_one() -> None:
        app = App(f"sqlite:///{path}")
        barrier.wait()
        try:
            app.stats()
        except Exception as exc:
            errors.append(exc)
        finally:
            app.close()

    threads = [threading.Thread(target=open_one) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_simultaneous_first_opens_of_a_new_file_never_report_it_locked(tmp_path: Path) -> None:
    # Switching a new file to WAL from two connections can fail at once with "database is
    # locked" (SQLite skips the busy handler there); the race is rare, hence the rounds.
    failures = [open_together(tmp_path / f"fresh-{n}.db") for n in range(ROUNDS)]

    assert [e for errors in failures for e in errors] == []
