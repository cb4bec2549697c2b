"""`underway.client` against a real `underway serve` and a real `underway worker`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

from tests.waiting import wait_until
from underway import App, JobState
from underway.client import AsyncClient, Client, NotAuthorized, ServerUnreachable
from underway.errors import (
    DuplicateJobError,
    InvalidStateError,
    JobCancelled,
    JobFailed,
    JobNotFound,
    UnknownJobError,
    ValidationError,
    WaitTimeout,
)

from .servers import FAST_WORKER, MANAGE_TOKEN, VIEW_TOKEN, free_port, start, start_api, stop


@dataclass(frozen=True)
class Server:
    url: str
    database: str
    logs: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("client")
    database = f"sqlite:///{folder / 'jobs.db'}"
    App(database).migrate()
    worker = start("worker", "--database", database, *FAST_WORKER, log=folder / "worker.log")
    port = free_port()
    api = start_api(database, port, folder / "serve.log")
    yield Server(f"http://127.0.0.1:{port}", database, folder)
    stop(api)
    stop(worker)


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, token=MANAGE_TOKEN) as client:
        yield client


@dataclass
class Pair:
    x: int
    y: int


def test_enqueue_wait_and_a_typed_result(client: Client) -> None:
    handle = client.enqueue("add", {"a": 20, "b": 22}, result_type=int)

    assert handle.state in (JobState.PENDING, JobState.RUNNING, JobState.COMPLETED)
    assert handle.result(timeout=20) == 42
    assert handle.state is JobState.COMPLETED


def test_result_as_the_type_the_caller_names(client: Client) -> None:
    handle = client.enqueue("pair", {"x": 3})

    assert handle.result(timeout=20, type=Pair) == Pair(3, 6)
    assert handle.wait(timeout=20) == {"x": 3, "y": 6}
    with pytest.raises(pydantic.ValidationError):
        handle.result(timeout=20, type=list[int])


def test_invalid_arguments_raise_validation_error_with_the_field_errors(client: Client) -> None:
    with pytest.raises(ValidationError) as raised:
        client.enqueue("add", {"a": "twenty"})

    assert raised.value.job_name == "add"
    [error] = raised.value.errors
    assert error["loc"] == ("a",)
    assert error["type"] == "int_type"
    assert "a: " in str(raised.value)


def test_an_invalid_option_is_a_validation_error_too(client: Client) -> None:
    with pytest.raises(ValidationError) as raised:
        client.enqueue("add", {"a": 1}, priority=10**9)

    assert raised.value.errors[0]["loc"] == ("query", "priority")


def test_unknown_job_name_and_unknown_id(client: Client) -> None:
    with pytest.raises(UnknownJobError):
        client.enqueue("no_such_job", {})
    with pytest.raises(JobNotFound) as raised:
        client.get("no-such-id")
    assert raised.value.job_id == "no-such-id"
    with pytest.raises(JobNotFound):
        client.cancel("no-such-id")


def test_a_failed_job_raises_job_failed_with_its_type_and_message(client: Client) -> None:
    handle = client.enqueue("fail", {"message": "no disk"})

    with pytest.raises(JobFailed) as raised:
        handle.result(timeout=20)

    assert (raised.value.error_type, raised.value.message) == ("RuntimeError", "no disk")
    assert raised.value.job_id == handle.id
    assert handle.state is JobState.FAILED


def test_cancel_then_retry(client: Client, tmp_path: Path) -> None:
    marker = tmp_path / "go"
    handle = client.enqueue("hold", {"marker": str(marker)})
    wait_until(lambda: handle.refresh().state is JobState.RUNNING, timeout=20)

    client.cancel(handle.id)

    with pytest.raises(JobCancelled):
        handle.result(timeout=20)
    with pytest.raises(InvalidStateError):
        client.cancel(handle.id)
    marker.touch()
    again = client.retry(handle.id)
    assert again.id == handle.id
    assert again.result(timeout=20) == str(marker)


def test_wait_gives_up_after_the_timeout_with_the_state(client: Client, tmp_path: Path) -> None:
    handle = client.enqueue("hold", {"marker": str(tmp_path / "never")})
    started = time.monotonic()

    with pytest.raises(WaitTimeout) as raised:
        handle.result(timeout=0.5)

    assert time.monotonic() - started < 3
    assert raised.value.state in ("pending", "running")
    handle.cancel()


def test_options_and_idempotency_key(client: Client) -> None:
    first = client.enqueue("add", {"a": 1}, delay=3600, priority=5, idempotency_key="k-1")
    again = client.enqueue("add", {"a": 1}, delay=3600, idempotency_key="k-1")

    assert first.state is JobState.SCHEDULED
    assert first.info.priority == 5
    assert again.id == first.id
    client.cancel(first.id)


def test_a_single_instance_job_already_active_is_a_duplicate(
    client: Client, tmp_path: Path
) -> None:
    first = client.enqueue("solo", {"marker": str(tmp_path / "never")})

    with pytest.raises(DuplicateJobError) as raised:
        client.enqueue("solo", {"marker": str(tmp_path / "never")})

    assert (raised.value.name, raised.value.active_id) == ("solo", first.id)
    first.cancel()


def test_list_filters_by_name_and_state_newest_first(client: Client) -> None:
    handles = [client.enqueue("pair", {"x": x}) for x in range(3)]
    for handle in handles:
        handle.result(timeout=20)

    listed = client.list(state="completed", name="pair", limit=2)

    assert [job.id for job in listed] == [handles[2].id, handles[1].id]
    assert all(job.state is JobState.COMPLETED for job in listed)
    assert all(job.name == "pair" for job in client.list(name="pair", limit=100))
    assert client.list(state=[JobState.FAILED], name="pair") == []


def test_tokens_and_scopes(server: Server, client: Client) -> None:
    job_id = client.enqueue("add", {"a": 1}).id
    with Client(server.url) as anonymous, pytest.raises(NotAuthorized) as raised:
        anonymous.get(job_id)
    assert raised.value.status == 401
    assert "Client(token=...)" in str(raised.value)
    with Client(server.url, token="wrong") as stranger, pytest.raises(NotAuthorized):
        stranger.list()

    with Client(server.url, token=VIEW_TOKEN) as viewer:
        assert viewer.get(job_id).id == job_id
        assert viewer.get(job_id).result(timeout=20) == 3
        with pytest.raises(NotAuthorized) as raised:
            viewer.enqueue("add", {"a": 1})
        assert raised.value.status == 403
        with pytest.raises(PermissionError):
            viewer.cancel(job_id)


async def test_the_async_client_does_the_same(server: Server, tmp_path: Path) -> None:
    async with AsyncClient(server.url, token=MANAGE_TOKEN) as client:
        handle = await client.enqueue("pair", {"x": 4}, result_type=Pair)
        assert await handle.wait(timeout=20) == Pair(4, 8)
        assert (await client.get(handle.id)).state is JobState.COMPLETED
        assert [job.id for job in await client.list(name="pair", limit=1)] == [handle.id]

        with pytest.raises(ValidationError):
            await client.enqueue("add", {"b": 1})
        failed = await client.enqueue("fail", {"message": "async"})
        with pytest.raises(JobFailed):
            await failed.result(timeout=20)

        held = await client.enqueue("hold", {"marker": str(tmp_path / "go")})
        await held.cancel()
        with pytest.raises(JobCancelled):
            await held.result(timeout=20)
        (tmp_path / "go").touch()
        assert await (await client.retry(held.id)).result(timeout=20) == str(tmp_path / "go")


def test_a_wait_outlives_a_server_restart(server: Server, tmp_path: Path) -> None:
    port = free_port()
    api = start_api(server.database, port, tmp_path / "serve.log")
    marker = tmp_path / "go"
    outcome: list[Any] = []
    with Client(f"http://127.0.0.1:{port}", token=MANAGE_TOKEN) as client:
        handle = client.enqueue("hold", {"marker": str(marker)})
        waiter = threading.Thread(target=lambda: outcome.append(handle.result(timeout=60)))
        waiter.start()
        try:
            wait_until(lambda: handle.refresh().state is JobState.RUNNING, timeout=20)
            stop(api)
            with pytest.raises(ServerUnreachable):
                client.get(handle.id)
            time.sleep(2.5)  # the waiter polls every second: it meets the closed port
            api = start_api(server.database, port, tmp_path / "serve.log")
            marker.touch()
            waiter.join(timeout=30)
        finally:
            marker.touch()
            stop(api)

    assert outcome == [str(marker)]
