"""A worker thread runs sync job after sync job with no request to end: the project's app
closes that thread's broken or obsolete Django connections before and after each, as Django
does around each request, but never a connection inside a transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections, transaction

from tests.conftest import memory_url
from underway.contrib.django.connections import with_fresh_connections
from underway.contrib.django.project_app import ProjectApp
from underway.testing import drain

pytestmark = pytest.mark.postgres


def in_a_thread(call: Callable[[], Any]) -> Any:
    """`call()` in a thread of its own, with connections of its own, closed after."""
    answer: list[Any] = []

    def run() -> None:
        try:
            answer.append(call())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return answer[0]


def obsolete(alias: str) -> Any:
    """This thread's connection to `alias`, opened and already past its CONN_MAX_AGE."""
    connection = connections[alias]
    connection.ensure_connection()
    connection.close_at = time.monotonic() - 1
    return connection


@pytest.mark.parametrize("alias", ["default", "postgres"])
def test_a_sync_job_starts_and_ends_with_stale_connections_closed(shop: object, alias: str) -> None:
    def job() -> bool:
        closed_before = connections[alias].connection is None
        obsolete(alias)
        return closed_before

    def run() -> tuple[bool, bool]:
        obsolete(alias)
        closed_before = with_fresh_connections(job)()
        return closed_before, connections[alias].connection is None

    assert in_a_thread(run) == (True, True)


def test_a_connection_inside_a_transaction_is_left_open(shop: object) -> None:
    def run() -> tuple[bool, int]:
        with transaction.atomic(using="postgres"):
            connection = obsolete("postgres")
            kept = with_fresh_connections(lambda: connection.connection is not None)()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                return kept, cursor.fetchone()[0]

    assert in_a_thread(run) == (True, 1)


def test_the_project_apps_sync_jobs_close_stale_connections(shop: object) -> None:
    """Jobs run one after another in the worker's threads: each that runs in a thread an
    earlier one left with an obsolete connection finds it closed."""
    app = ProjectApp(memory_url())

    @app.job
    def leaves_an_obsolete_connection(alias: str) -> tuple[int, bool]:
        closed_before = connections[alias].connection is None
        obsolete(alias)
        return threading.get_ident(), closed_before

    @app.job
    async def untouched() -> str:
        return "async jobs are not wrapped"

    try:
        runs = [leaves_an_obsolete_connection.enqueue("postgres") for _ in range(6)]
        other = untouched.enqueue()
        drain(app, concurrency=1)
        seen = [tuple(run.result()) for run in runs]
        threads = [thread for thread, _ in seen]
        assert len(set(threads)) < len(threads), "no thread ran two jobs: nothing was tested"
        assert all(closed for _, closed in seen), seen
        assert other.result() == "async jobs are not wrapped"
    finally:
        app.close()
