"""The shop's tests: each helper of underway.testing, with the plugin's fixtures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from shop.jobs import SENT, import_catalog, nightly_report, place_order, send_receipt

from underway import App, JobState
from underway.testing import Clock, TestContext, assert_enqueued, assert_not_enqueued, drain


@pytest.fixture(autouse=True)
def no_mail_sent() -> None:
    SENT.clear()


def test_an_order_sends_a_receipt(underway_app: App) -> None:
    place_order.enqueue(1, "ann@example.com")
    assert [job.name for job in drain(underway_app)] == ["place_order", "send_receipt"]
    assert SENT == ["ann@example.com"]


def test_the_receipt_is_enqueued_not_sent_by_the_order(underway_app: App) -> None:
    place_order(2, "bob@example.com")  # calling the job object calls the function
    assert_enqueued(send_receipt, order=2, email="bob@example.com")
    assert_not_enqueued(place_order)


def test_a_refused_receipt_is_retried_after_its_backoff(
    underway_app: App, underway_clock: Clock
) -> None:
    handle = send_receipt.enqueue(3, "cy@flaky.example")
    assert [job.state for job in drain(underway_app)] == [JobState.SCHEDULED]
    underway_clock.advance(timedelta(seconds=30))
    drain(underway_app)
    assert handle.result(timeout=0) == "receipt 3 to cy@flaky.example"


def test_the_nightly_report_runs_once_a_night(underway_app: App, underway_clock: Clock) -> None:
    underway_clock.advance(timedelta(days=1))
    drain(underway_app)
    assert len(underway_app.list(name=nightly_report.name)) == 1


def test_inline_mode_runs_the_order_and_its_receipt_at_once(underway_inline: App) -> None:
    assert place_order.enqueue(4, "di@example.com").result(timeout=0) == 4
    assert SENT == ["di@example.com"]


def test_each_test_gets_a_fresh_database(underway_app: App) -> None:
    assert underway_app.list() == []


def test_the_catalog_import_reports_progress() -> None:
    ctx = TestContext()
    assert import_catalog(ctx, 3) == 3
    assert ctx.reported.last_progress == 100.0
    assert ctx.reported.messages == ["3 products"]
