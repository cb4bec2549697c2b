"""underway.testing: assertions on waiting jobs, and a context for calling a job directly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from underway import App, JobContext
from underway.testing import (
    TestContext,
    assert_enqueued,
    assert_not_enqueued,
    drain,
    enqueued,
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = App(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield app
    app.close()


def test_assert_enqueued_matches_arguments_as_stored(app: App) -> None:
    @app.job
    def export(day: date, tenant: int, note: str = "") -> int:
        return tenant

    export.enqueue(date(2026, 12, 1), 7)
    handle = assert_enqueued(export, day="2026-12-01", tenant="7")
    assert handle.job.args == {"day": "2026-12-01", "tenant": 7, "note": ""}
    assert assert_enqueued(export).id == handle.id
    assert [h.id for h in enqueued(export, tenant=7)] == [handle.id]
    assert enqueued(export, tenant=8) == []
    assert_not_enqueued(export, tenant=8)
    drain(app)
    assert_not_enqueued(export)


def test_failures_say_what_is_waiting_instead(app: App) -> None:
    @app.job
    def export(tenant: int) -> None: ...

    with pytest.raises(AssertionError, match="no export job is waiting at all"):
        assert_enqueued(export, tenant=1)
    export.enqueue(2)
    with pytest.raises(
        AssertionError,
        match=r"no export job is waiting with tenant=1; waiting export jobs: .*'tenant': 2",
    ):
        assert_enqueued(export, tenant=1)
    with pytest.raises(AssertionError, match=r"1 export job\(s\) waiting with tenant=2, expected"):
        assert_not_enqueued(export, tenant=2)
    with pytest.raises(TypeError, match="export has no parameter 'tenant_id'"):
        assert_enqueued(export, tenant_id=2)


def test_a_job_that_takes_a_context_can_be_called_directly(app: App) -> None:
    @app.job
    def import_rows(ctx: JobContext, rows: int) -> int:
        done = 0
        for done in range(1, rows + 1):
            if ctx.cancelled:
                ctx.log(f"stopped after {done - 1} rows", level="warning")
                return done - 1
            ctx.progress(100 * done / rows, f"row {done}")
            if done == 2:
                ctx.log("halfway")
        return done

    ctx = TestContext()
    assert import_rows(ctx, 4) == 4
    assert ctx.reported.last_progress == 100.0
    assert ctx.reported.progress[0] == (25.0, "row 1")
    assert ctx.reported.messages == ["halfway"]

    cancelled = TestContext()
    cancelled.cancel()
    assert import_rows(cancelled, 4) == 0
    assert cancelled.reported.logs[0].level == "warning"
    assert app.list() == [], "a direct call stores nothing"
