"""`serve`: loopback unless protected, an in-process worker for the server's lifetime."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import uvicorn

from tests.waiting import wait_until
from underway import App, ConfigurationError, WorkerSettings
from underway.api.serve import DrainingServer, bind_host, serve


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_tokens(host: str) -> None:
    assert bind_host(host, has_tokens=False, insecure=False) == host


def test_other_hosts_without_tokens_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="--insecure"):
        bind_host("0.0.0.0", has_tokens=False, insecure=False)


def test_other_hosts_are_allowed_with_tokens_or_insecure() -> None:
    assert bind_host("0.0.0.0", has_tokens=True, insecure=False) == "0.0.0.0"
    assert bind_host("0.0.0.0", has_tokens=False, insecure=True) == "0.0.0.0"


def test_serve_runs_a_worker_while_uvicorn_runs(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("UNDERWAY_TOKENS", raising=False)
    app = App(f"sqlite:///{tmp_path}/serve.db")
    seen: dict[str, Any] = {}

    def fake_run(server: DrainingServer) -> None:
        seen.update(host=server.config.host, port=server.config.port)
        seen["workers"] = wait_until(app.workers)

    monkeypatch.setattr(DrainingServer, "run", fake_run)
    with caplog.at_level(logging.WARNING, logger="underway.api"):
        serve(app, port=8123, worker_settings=WorkerSettings(concurrency=3, poll_interval=0.05))

    assert seen["host"] == "127.0.0.1"
    assert seen["port"] == 8123
    assert seen["workers"][0].concurrency == 3
    assert app._workers == []
    assert "open to every local user" in caplog.text
    app.close()


def test_serve_without_worker_starts_none(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = App(f"sqlite:///{tmp_path}/serve.db")
    started: list[Any] = []
    monkeypatch.setattr(app, "start_worker", lambda *a, **k: started.append(1))
    monkeypatch.setattr(DrainingServer, "run", lambda server: None)

    serve(app, tokens="t:jobs:manage", host="0.0.0.0", worker=False)

    assert started == []
    app.close()


def test_serve_refuses_a_public_host_without_tokens(tmp_path: Any) -> None:
    app = App(f"sqlite:///{tmp_path}/serve.db")
    with pytest.raises(ConfigurationError):
        serve(app, host="0.0.0.0", tokens={})
    app.close()


def test_serve_trusts_forwarded_headers_only_when_asked(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = App(f"sqlite:///{tmp_path}/serve.db")
    seen: list[uvicorn.Config] = []
    monkeypatch.setattr(DrainingServer, "run", lambda server: seen.append(server.config))

    serve(app, worker=False)
    serve(app, worker=False, forwarded_allow_ips=["10.0.0.2", "10.0.0.3"])

    assert seen[0].proxy_headers is False
    assert (seen[1].proxy_headers, seen[1].forwarded_allow_ips) == (True, ["10.0.0.2", "10.0.0.3"])
    app.close()
