"""`manage.py underway ...` in real processes: migrate creates the schema in the database of
settings.UNDERWAY, and a worker runs the job that a view enqueued."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.test import Client

from tests.conftest import POSTGRES_URL
from tests.waiting import wait_until
from underway import JobState
from underway.contrib.django import app
from underway.contrib.django.management.commands.underway import without_django_options

from .conftest import PROJECT, Shop

pytestmark = pytest.mark.postgres
TIMEOUT_S = 60


def manage(environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_migrate_creates_the_schema_in_a_fresh_sqlite_database(shop: Shop, tmp_path: Path) -> None:
    fresh = shop.manage("default", SHOP_SQLITE_FILE=str(tmp_path / "fresh.sqlite3"))
    first = manage(fresh, "underway", "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    again = manage(fresh, "underway", "migrate", "--settings", "shopsite.settings")
    assert again.returncode == 0, again.stderr
    assert "the schema is up to date" in again.stdout


def test_migrate_creates_the_schema_in_the_postgres_schema_of_the_settings(shop: Shop) -> None:
    schema = f"{shop.schema}_fresh"
    done = manage(shop.manage("postgres", SHOP_PG_SCHEMA=schema), "underway", "migrate")
    try:
        assert done.returncode == 0, done.stderr
        assert "applied 0001_initial" in done.stdout
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_worker_runs_the_job_a_view_enqueued(shop: Shop, jobs_alias: str) -> None:
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "underway", "worker", "--poll-interval", "0.05"],
        cwd=PROJECT,
        env=shop.manage(jobs_alias),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        answer = Client().get("/orders", {"item": "scones"})
        assert answer.status_code == 201, answer.content
        job_id = answer.json()["job"]

        def ran() -> bool:
            if worker.poll() is not None:  # no point waiting on a worker that is gone
                raise AssertionError(f"the worker exited: {worker.communicate()[0]}")
            return app.get(job_id).state is JobState.COMPLETED

        wait_until(ran, timeout=TIMEOUT_S, what="the worker ran the receipt")
        assert app.handle(job_id).result() == "receipt for scones"
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=TIMEOUT_S)
    assert worker.returncode == 0, output


def test_an_unknown_underway_command_fails_with_the_cli_usage(shop: Shop) -> None:
    done = manage(shop.manage("default"), "underway", "no-such-command")
    assert done.returncode == 2
    assert "no such command" in done.stderr
    assert "manage.py underway" in done.stderr


def test_manage_pys_own_options_are_not_passed_on() -> None:
    given = ["worker", "--settings", "a.b", "--pythonpath=.", "--concurrency", "2"]
    assert without_django_options(given) == ["worker", "--concurrency", "2"]
