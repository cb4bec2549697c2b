"""The memory backend inside its process: `memory://` is a database per app, `memory://name`
one the process's apps share, every connection of an app opens the app's database, which is
in no file and goes when the last backend on it closes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import fast_settings, memory_url
from underway import App
from underway.backends import open_backend
from underway.backends.memory.backend import MemoryBackend
from underway.errors import DatabaseConfigurationError
from underway.testing import drain


def add(a: int, b: int) -> int:
    return a + b


def database_path(app: App) -> Path:
    """The path that names the app's memory database: its wake-ups are kept beside it."""
    backend = app.runtime.call(app.backend())
    assert isinstance(backend, MemoryBackend)
    return Path(backend.path)


def test_two_apps_on_memory_have_a_database_each() -> None:
    with App("memory://") as first, App("memory://") as second:
        first.job(add).enqueue(a=1, b=2)

        assert first.database_url != second.database_url
        assert len(first.list()) == 1
        assert second.list() == []


def test_apps_on_one_memory_name_share_its_database() -> None:
    url = f"memory://shared-{uuid.uuid4().hex[:8]}"
    with App(url) as producer, App(url) as consumer:
        handle = producer.job(add).enqueue(a=1, b=2)
        consumer.job(add)

        assert [job.id for job in drain(consumer)] == [handle.id]
        assert handle.result(timeout=0) == 3


def test_the_apps_heartbeat_connection_opens_the_apps_database() -> None:
    with App("memory://") as app:
        handle = app.job(add).enqueue(a=1, b=2)
        heartbeats = app.new_backend()

        async def read_through_heartbeats() -> object:
            await heartbeats.open()
            try:
                return await heartbeats.get(handle.id)
            finally:
                await heartbeats.close()

        seen = app.runtime.call(read_through_heartbeats())
        assert seen is not None
        assert app.list()[0].id == handle.id, "closing the second connection kept the database"


def test_the_database_is_no_file_and_goes_once_the_last_backend_on_it_closes() -> None:
    url = memory_url()
    first, second = App(url), App(url)
    handle = first.job(add).enqueue(a=1, b=2)
    second.job(add)
    second.start_worker(fast_settings())  # a worker also makes the wake-up folder
    assert handle.result(timeout=10) == 3
    path = database_path(first)
    assert [p for p in path.parent.iterdir() if p.is_file()] == [], "the data is in no file"
    first.close()
    assert second.get(handle.id).result == 3
    assert Path(f"{path}.wake").is_dir()

    second.close()

    assert list(path.parent.glob(f"{path.name}*")) == [], "the wake-up folder went too"
    with App(url) as again:
        assert again.list() == [], "the name now opens a new database"


def test_the_memory_backend_keeps_the_apps_clock() -> None:
    class Frozen:
        def now(self) -> float:
            return 1_800_000_000.0

    with App("memory://", clock=Frozen()) as app:
        handle = app.job(add).enqueue(a=1, b=2)

        assert app.get(handle.id).created_at == datetime.fromtimestamp(1_800_000_000, UTC)


def test_create_and_migrate_do_not_stop_a_memory_database_from_opening_new() -> None:
    with App("memory://", create=False, migrate=False) as app:
        assert app.list() == []


@pytest.mark.parametrize(
    "url", ["memory:///jobs", "memory://jobs/more", "memory://jobs?mode=rw", "memory://-x"]
)
def test_a_malformed_memory_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(DatabaseConfigurationError, match="memory"):
        open_backend(url)
