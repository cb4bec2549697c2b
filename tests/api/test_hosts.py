"""DNS rebinding: the API answers only to allowed host names, loopback ones by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from underway import App, ConfigurationError
from underway.api import create_api

from .conftest import FAST_STREAMS, MANAGE_TOKEN, TOKENS
from .support import LiveServer

#: The name a browser sends after DNS rebinding: the attacker's, resolving to 127.0.0.1.
REBOUND = "evil.example"
MANAGE = {"Authorization": f"Bearer {MANAGE_TOKEN}"}


@pytest.fixture
def serving(app: App) -> Iterator[Any]:
    """Start live servers for APIs built by the test; all are stopped afterwards."""
    servers: list[LiveServer] = []

    def start(api: FastAPI) -> LiveServer:
        servers.append(LiveServer(api).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def get(server: LiveServer, path: str, host: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        return http.get(path, headers={"Host": host, **kwargs.pop("headers", {})}, **kwargs)


def test_open_mode_refuses_a_rebound_host_name_and_stores_nothing(
    serving: Any, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNDERWAY_TOKENS", raising=False)
    server = serving(create_api(app, streams=FAST_STREAMS))
    rebound = {"Host": f"{REBOUND}:{server.port}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        submit = http.post("/api/jobs/add", json={"a": 1}, headers=rebound)
        listing = http.get("/api/jobs", headers=rebound)
        dashboard = http.get("/dashboard", headers=rebound)
        schema = http.get("/openapi.json", headers=rebound)

    assert [r.status_code for r in (submit, listing, dashboard, schema)] == [400] * 4
    error = submit.json()["error"]
    assert error["code"] == "HostNotAllowed"
    assert "DNS rebinding" in error["message"]
    assert "--allowed-host" in error["message"]
    assert app.list() == []


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LocalHost"])
def test_open_mode_serves_loopback_host_names_on_any_port(
    serving: Any, app: App, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNDERWAY_TOKENS", raising=False)
    server = serving(create_api(app, streams=FAST_STREAMS))

    for host in (name, f"{name}:{server.port}", f"{name}:1"):
        assert get(server, "/api/stats", host).status_code == 200, host


def test_allowed_hosts_adds_names_to_the_loopback_ones(
    serving: Any, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNDERWAY_TOKENS", raising=False)
    api = create_api(app, allowed_hosts=["jobs.internal", "*.corp.example"], streams=FAST_STREAMS)
    server = serving(api)

    statuses = {
        host: get(server, "/api/stats", f"{host}:{server.port}").status_code
        for host in ("jobs.internal", "a.corp.example", "localhost", REBOUND, "corp.example.evil")
    }
    assert statuses == {
        "jobs.internal": 200,
        "a.corp.example": 200,
        "localhost": 200,
        REBOUND: 400,
        "corp.example.evil": 400,
    }


def test_with_tokens_any_host_is_served_unless_an_allow_list_is_given(
    serving: Any, app: App
) -> None:
    anywhere = serving(create_api(app, tokens=TOKENS, streams=FAST_STREAMS))
    listed = serving(
        create_api(app, tokens=TOKENS, allowed_hosts=["jobs.example.com"], streams=FAST_STREAMS)
    )

    assert get(anywhere, "/api/stats", REBOUND, headers=MANAGE).status_code == 200
    assert get(listed, "/api/stats", REBOUND, headers=MANAGE).status_code == 400
    assert get(listed, "/api/stats", "jobs.example.com", headers=MANAGE).status_code == 200


def test_an_api_mounted_in_another_app_checks_the_host_too(
    serving: Any, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNDERWAY_TOKENS", raising=False)
    outer = FastAPI()

    @outer.get("/hello")
    def hello() -> PlainTextResponse:
        return PlainTextResponse("hello")

    outer.mount("/jobs", create_api(app, streams=FAST_STREAMS))
    server = serving(outer)

    assert get(server, "/jobs/api/stats", REBOUND).status_code == 400
    assert get(server, "/jobs/dashboard", REBOUND).status_code == 400
    assert get(server, "/jobs/api/stats", f"127.0.0.1:{server.port}").status_code == 200
    assert get(server, "/hello", REBOUND).text == "hello"


@pytest.mark.parametrize(
    "pattern", ["jobs.internal:8000", "http://jobs.internal", "*jobs.internal", "a.*.b", "", "a/b"]
)
def test_bad_allowed_host_patterns_are_configuration_errors(app: App, pattern: str) -> None:
    with pytest.raises(ConfigurationError, match="allowed host"):
        create_api(app, allowed_hosts=[pattern])
