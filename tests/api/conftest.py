"""Fixtures: an app on a fresh SQLite file with an in-process worker, clients and a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from underway import App
from underway.api import StreamSettings, create_api

from .support import RELEASED, LiveServer, build_app

VIEW_TOKEN = "view-token-0123456789"
MANAGE_TOKEN = "manage-token-0123456789"
TOKENS = f"{VIEW_TOKEN}:jobs:view,{MANAGE_TOKEN}:jobs:manage"
FAST_STREAMS = StreamSettings(poll_s=0.05, max_s=10.0)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    app.start_worker(concurrency=2, poll_interval=0.05, flush_interval=0.05, shutdown_grace=2.0)
    yield app
    RELEASED.add("*")
    app.close()
    RELEASED.clear()


@pytest.fixture
def api(app: App) -> FastAPI:
    # TestClient's requests name the host "testserver"; insecure alone serves loopback names.
    return create_api(
        app, insecure=True, allowed_hosts=["testserver"], max_wait_s=5.0, streams=FAST_STREAMS
    )


@pytest.fixture
def client(api: FastAPI) -> Iterator[TestClient]:
    with TestClient(api, follow_redirects=False) as client:
        yield client


@pytest.fixture
def live(app: App) -> Iterator[LiveServer]:
    """A real uvicorn server for the API of `app`, protected by tokens."""
    server = LiveServer(create_api(app, tokens=TOKENS, streams=FAST_STREAMS)).start()
    yield server
    server.stop()
