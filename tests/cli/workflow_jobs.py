"""The sample jobs and two more for workflows: a fan-in that sums a group's results, and a
gate that fails until a test opens it."""

from __future__ import annotations

from underway import App

from .sample_jobs import make_app as make_sample_app

#: Keys of gates a test opened.
OPEN: set[str] = set()


def make_app(database: str | None = None) -> App:
    """The sample jobs, `total` and `gate` on `database`."""
    app = make_sample_app(database)

    @app.job
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    @app.job
    def gate(key: str) -> str:
        if key not in OPEN:
            raise RuntimeError(f"gate {key} is closed")
        return key

    return app


app = make_app()
