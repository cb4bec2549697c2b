"""Enqueues that join the current Django transaction, on the shop's PostgreSQL and SQLite
databases: a committed order has its job, which runs; a rolled-back one has none; a bad call
raises where it is made and stores nothing."""

from __future__ import annotations

import contextlib

import pytest
from django.db import transaction
from django.test import Client

from underway import App, JobState, ValidationError
from underway.contrib.django import Enqueued, NotStoredYet, app, in_transaction
from underway.errors import ConfigurationError, JobNotFound
from underway.testing import drain

pytestmark = pytest.mark.postgres


def receipts() -> list[str]:
    from orders.jobs import send_receipt

    return [job.id for job in app.list(name=send_receipt.name, limit=1000)]


def test_a_committed_order_has_its_receipt_job_which_runs(jobs_alias: str) -> None:
    answer = Client().get("/orders", {"item": "cake"})
    assert answer.status_code == 201, answer.content
    job_id = answer.json()["job"]
    assert app.get(job_id).state is JobState.PENDING
    drain(app)
    assert app.handle(job_id).result() == "receipt for cake"


def test_a_rolled_back_order_leaves_no_job(jobs_alias: str) -> None:
    before = receipts()
    answer = Client().get("/orders", {"item": "cake", "fail": "1"})
    assert answer.status_code == 402
    assert receipts() == before


def test_a_bad_call_raises_where_it_is_made_and_stores_nothing(jobs_alias: str) -> None:
    from orders.jobs import send_receipt

    before = receipts()
    with transaction.atomic(using=jobs_alias), pytest.raises(ValidationError, match="order_id"):
        in_transaction(send_receipt, using=jobs_alias).enqueue(order_id="seven")  # type: ignore[arg-type]
    assert receipts() == before


def test_a_bad_option_raises_where_it_is_made_and_stores_nothing(jobs_alias: str) -> None:
    from orders.jobs import send_receipt

    before = receipts()
    badly = send_receipt.options(on_duplicate="never")  # type: ignore[arg-type]
    with transaction.atomic(using=jobs_alias), pytest.raises(ConfigurationError, match="never"):
        in_transaction(badly, using=jobs_alias).enqueue(order_id=1)
    assert receipts() == before


def test_outside_a_transaction_the_job_is_stored_at_once(jobs_alias: str) -> None:
    from orders.jobs import send_receipt

    enqueued = in_transaction(send_receipt, using=jobs_alias).enqueue(order_id=1)
    assert enqueued.stored
    assert app.get(enqueued.handle.id).state is JobState.PENDING


def test_on_postgres_the_job_is_in_the_transaction_seen_by_others_after_commit(
    postgres_jobs: str,
) -> None:
    from orders.jobs import send_receipt

    other = App(app.database_url)
    try:
        with transaction.atomic(using=postgres_jobs):
            enqueued = in_transaction(send_receipt, using=postgres_jobs).enqueue(order_id=1)
            assert enqueued.stored
            assert enqueued.handle.job.args == {"order_id": 1}
            with pytest.raises(JobNotFound):
                other.get(enqueued.handle.id)
        assert other.get(enqueued.handle.id).state is JobState.PENDING
    finally:
        other.close()


def test_on_postgres_a_rollback_takes_the_job_with_it(postgres_jobs: str) -> None:
    from orders.jobs import send_receipt

    enqueued: list[Enqueued[str]] = []
    with contextlib.suppress(RuntimeError), transaction.atomic(using=postgres_jobs):
        enqueued.append(in_transaction(send_receipt, using=postgres_jobs).enqueue(order_id=1))
        raise RuntimeError("declined")
    with pytest.raises(JobNotFound):
        app.get(enqueued[0].handle.id)


def test_on_sqlite_the_job_is_stored_when_the_transaction_commits(sqlite_jobs: str) -> None:
    from orders.jobs import send_receipt

    before = receipts()
    with transaction.atomic(using=sqlite_jobs):
        enqueued = in_transaction(send_receipt, using=sqlite_jobs).enqueue(order_id=1)
        assert not enqueued.stored
        with pytest.raises(NotStoredYet, match="commits"):
            enqueued.handle  # noqa: B018
        assert receipts() == before
    assert app.get(enqueued.handle.id).state is JobState.PENDING


def test_a_job_of_another_app_is_stored_at_commit(postgres_jobs: str) -> None:
    other = App("memory://django-other-app")

    @other.job
    def ping() -> str:
        return "pong"

    try:
        with transaction.atomic(using=postgres_jobs):
            enqueued = in_transaction(ping, using=postgres_jobs).enqueue()
            assert not enqueued.stored  # not the project's database: Django's transaction
        assert other.get(enqueued.handle.id).state is JobState.PENDING
    finally:
        other.close()


def test_enqueue_async_from_an_async_view(jobs_alias: str) -> None:
    answer = Client().get("/orders-async", {"order": "1"})
    assert answer.status_code == 201, answer.content
    assert app.get(answer.json()["job"]).name == "send_receipt"


def test_in_transaction_takes_a_job_object() -> None:
    with pytest.raises(TypeError, match="job object"):
        in_transaction(print)  # type: ignore[arg-type]
