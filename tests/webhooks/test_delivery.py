"""Completion webhooks: a delivery job stored with the job, released when it ends, POSTing a
signed outcome to a real local receiver until it answers 2xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.conftest import fast_settings
from tests.waiting import wait_until
from underway import App, ConfigurationError, JobState
from underway.backends.postgres.connection import parse_postgres_url
from underway.testing import Clock, drain
from underway.webhooks import verify

from .receiver import Receiver

SECRET = "a-test-secret"


def webhook_app(url: str | None = None) -> tuple[App, Clock]:
    clock = Clock()
    return App("memory://", clock=clock, webhook_url=url, webhook_secret=SECRET), clock


def test_a_completed_job_delivers_once_with_a_valid_signature(receiver: Receiver) -> None:
    app, _ = webhook_app()

    @app.job(webhook=receiver.url)
    def add(x: int, y: int) -> int:
        return x + y

    handle = add.enqueue(2, 3)
    [waiting] = app.list(name="underway.webhook")
    assert (waiting.state, waiting.queue) == (JobState.WAITING, "underway.webhooks")
    drain(app)

    [request] = receiver.received
    verify(SECRET, request.headers, request.body)
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}."
    digest = hmac.new(SECRET.encode(), signed.encode() + request.body, hashlib.sha256).digest()
    assert request.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    body = json.loads(request.body)
    assert (body["id"], body["name"]) == (handle.id, "add")
    assert (body["state"], body["result"], body["attempt"]) == ("completed", 5, 1)
    assert body["finished_at"] is not None
    delivery = app.get(waiting.id)
    assert delivery.state is JobState.COMPLETED
    assert request.headers["webhook-id"] == delivery.id
    assert delivery.result == {"url": receiver.url, "status": 200}


def test_a_job_that_fails_after_its_last_attempt_delivers_its_error(receiver: Receiver) -> None:
    app, clock = webhook_app(receiver.url)

    @app.job(retries=1)
    def flaky() -> None:
        raise RuntimeError("disk full")

    handle = flaky.enqueue()
    drain(app)
    assert receiver.received == []  # a retry to come is not an end
    clock.advance(timedelta(hours=2))
    drain(app)

    [request] = receiver.received
    verify(SECRET, request.headers, request.body)
    body = json.loads(request.body)
    assert (body["id"], body["state"], body["attempt"]) == (handle.id, "failed", 2)
    assert body["error"] == {"type": "RuntimeError", "message": "disk full"}


def test_a_cancelled_job_delivers(receiver: Receiver) -> None:
    app, _ = webhook_app(receiver.url)

    @app.job
    def later() -> None:
        pass

    handle = later.options(delay=timedelta(hours=1)).enqueue()
    app.cancel(handle.id)
    drain(app)

    [request] = receiver.received
    assert json.loads(request.body)["state"] == "cancelled"


def test_a_receiver_down_for_a_while_gets_the_delivery_once_it_is_up() -> None:
    receiver = Receiver()  # not started: connections are refused
    app, clock = webhook_app(receiver.url)

    @app.job
    def work() -> str:
        return "done"

    work.enqueue()
    drain(app)
    [delivery] = app.list(name="underway.webhook")
    assert delivery.state is JobState.SCHEDULED
    assert "ConnectError" in delivery.errors[-1].message

    receiver.answers = [(503, {"retry-after": "7200"})]
    receiver.start()
    try:
        clock.advance(timedelta(hours=2))
        drain(app)
        assert len(receiver.received) == 1  # answered 503: to be retried after 2 h, not sooner
        clock.advance(timedelta(minutes=30))
        drain(app)
        assert len(receiver.received) == 1
        assert app.get(delivery.id).state is JobState.SCHEDULED
        clock.advance(timedelta(hours=2))
        drain(app)
    finally:
        receiver.stop()

    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.id
    verify(SECRET, second.headers, second.body)
    done = app.get(delivery.id)
    assert (done.state, done.attempt) == (JobState.COMPLETED, 3)
    assert [e.attempt for e in done.errors] == [1, 2]


def test_a_4xx_fails_the_delivery_at_once_with_the_status(receiver: Receiver) -> None:
    app, _ = webhook_app(receiver.url)
    receiver.answers = [(400, {})]

    @app.job
    def work() -> None:
        pass

    work.enqueue()
    drain(app)

    [delivery] = app.list(name="underway.webhook")
    assert (delivery.state, delivery.attempt) == (JobState.FAILED, 1)
    assert delivery.error is not None
    assert delivery.error.type == "WebhookRejected"
    assert "answered 400" in delivery.error.message
    assert "fix the receiver" in delivery.error.message
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [408, 429, 500])
def test_these_statuses_are_retried(receiver: Receiver, status: int) -> None:
    app, _ = webhook_app(receiver.url)
    receiver.answers = [(status, {})]

    @app.job
    def work() -> None:
        pass

    work.enqueue()
    drain(app)
    [delivery] = app.list(name="underway.webhook")
    assert delivery.state is JobState.SCHEDULED


def test_a_job_without_a_webhook_stores_no_delivery() -> None:
    app, _ = webhook_app()

    @app.job
    def plain() -> None:
        pass

    plain.enqueue()
    assert [job.name for job in app.list()] == ["plain"]


def test_a_unique_job_that_joins_another_stores_no_second_delivery(receiver: Receiver) -> None:
    app, _ = webhook_app(receiver.url)

    @app.job(unique="join")
    def once(key: str) -> str:
        return key

    first, second = once.enqueue("a"), once.enqueue("a")
    assert first.id == second.id
    [delivery] = app.list(name="underway.webhook")
    assert delivery.state is JobState.WAITING
    drain(app)
    assert len(receiver.received) == 1


def test_enqueue_many_stores_a_delivery_for_each(receiver: Receiver) -> None:
    app, _ = webhook_app(receiver.url)

    @app.job
    def double(x: int) -> int:
        return 2 * x

    app.enqueue_many(double, [{"x": 1}, {"x": 2}])
    drain(app)
    assert sorted(json.loads(r.body)["result"] for r in receiver.received) == [2, 4]


def test_a_webhook_needs_a_secret_and_a_good_url() -> None:
    app = App("memory://")

    @app.job(webhook="https://example.com/hooks")
    def work() -> None:
        pass

    with pytest.raises(ConfigurationError, match="secret"):
        work.enqueue()
    assert app.list() == []
    for bad in ("ftp://example.com", "example.com/hooks", "https://"):
        with pytest.raises(ConfigurationError, match="webhook URL"):
            app.job(name=f"bad{len(bad)}", webhook=bad)(lambda: None)
    with pytest.raises(ConfigurationError, match="webhook URL"):
        app.webhooks("not a url", secret=SECRET)


def test_a_worker_on_sqlite_delivers(receiver: Receiver, tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'hooks.db'}", webhook_secret=SECRET)

    @app.job(webhook=receiver.url)
    def work() -> str:
        return "ok"

    handle = work.enqueue()
    worker = app.start_worker(fast_settings())
    try:
        wait_until(lambda: receiver.received, timeout=10, what="a delivery")
    finally:
        worker.stop()
        app.close()
    assert json.loads(receiver.received[0].body)["id"] == handle.id


def test_every_backend_stores_and_releases_deliveries(receiver: Receiver, backend_url: str) -> None:
    app = App(backend_url, webhook_url=receiver.url, webhook_secret=SECRET)

    @app.job
    def plain(x: int) -> int:
        return x

    @app.job(unique="join")
    def joined(x: int) -> int:
        return x

    try:
        ids = {plain.enqueue(1).id, joined.enqueue(2).id, joined.enqueue(2).id}
        waiting = app.list(name="underway.webhook")
        assert [job.state for job in waiting] == [JobState.WAITING] * 2
        drain(app)
        assert {json.loads(r.body)["id"] for r in receiver.received} == ids
        assert len(receiver.received) == 2
    finally:
        app.close()


def test_a_transactional_enqueue_stores_the_delivery_in_the_callers_transaction(
    receiver: Receiver, pg_url: str
) -> None:
    app = App(pg_url, webhook_url=receiver.url, webhook_secret=SECRET)

    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    try:
        with psycopg.connect(parse_postgres_url(pg_url).conninfo) as conn:
            add.options(connection=conn).enqueue(1, 2)
            conn.rollback()
            assert app.list() == []
            kept = add.options(connection=conn).enqueue(2, 3)
            conn.commit()
        [delivery] = app.list(name="underway.webhook")
        assert delivery.state is JobState.WAITING
        drain(app)
        [request] = receiver.received
        assert json.loads(request.body)["id"] == kept.id
    finally:
        app.close()
