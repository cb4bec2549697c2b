"""`underway serve`: the HTTP API and a worker in one process, and its refusal to be exposed."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import httpx

from tests.waiting import wait_until

from .commands import HERE, run, start, subprocess_env

#: Runs the CLI with fastapi and uvicorn missing, as in an install without the server extra.
WITHOUT_SERVER_EXTRA = textwrap.dedent(
    """
    import sys

    class RefuseServerExtra:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"fastapi", "uvicorn"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, RefuseServerExtra())
    from underway.cli import main

    sys.argv = ["underway", *sys.argv[1:]]
    main()
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def start_serve(database: str, port: int, *options: str, log: Path) -> subprocess.Popen[Any]:
    """`underway serve` of the sample jobs on `port`, its output in `log`."""
    return start(
        "serve",
        "--app",
        "sample_jobs:app",
        "--port",
        str(port),
        "--database",
        database,
        *options,
        log=log,
    )


def test_serve_runs_the_api_and_a_worker_until_sigterm(database: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_serve(database, port, log=tmp_path / "serve.log")
    try:
        wait_until(lambda: fetch(f"{base}/healthz")[0] == 200, timeout=30)
        status, job = fetch(f"{base}/api/jobs/add", {"a": 2, "b": 3})
        assert status == 202
        wait_until(
            lambda: (
                fetch(f"{base}/api/jobs/{job['id']}?redirect=false")[1].get("state") == "completed"
            ),
            timeout=20,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(20)
    assert code == 0, (tmp_path / "serve.log").read_text()


def test_serve_logs_one_json_object_per_line_uvicorns_too(database: str, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    server = start_serve(database, port, "--log-format", "json", log=log)
    try:
        wait_until(lambda: fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=30)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0, log.read_text()

    entries = [json.loads(line) for line in log.read_text().splitlines()]

    loggers = {entry["logger"] for entry in entries}
    assert {"underway.worker", "uvicorn.error", "uvicorn.access"} <= loggers
    assert all("color_message" not in entry for entry in entries)


def test_serve_refuses_a_public_address_without_tokens(database: str) -> None:
    result = run("serve", "--app", "sample_jobs:app", "--host", "0.0.0.0", "--database", database)
    assert result.returncode == 1
    assert result.stderr.startswith("error: refusing to serve the API on 0.0.0.0 without tokens")
    assert "Traceback" not in result.stderr


def up_or_exited(port: int, server: subprocess.Popen[Any]) -> bool:
    return server.poll() is not None or fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200


def submit(base: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base}/api/jobs/add", json={"a": 1, "b": 2}, headers=headers, timeout=10)


def test_serve_answers_only_allowed_host_names_and_trusts_a_proxy_only_when_told(
    database: str, tmp_path: Path
) -> None:
    """By default: loopback names only, X-Forwarded-* ignored. The options change both."""
    ports = free_port(), free_port()
    options = ((), ("--allowed-host", "jobs.internal", "--forwarded-allow-ips", "127.0.0.1"))
    servers = [
        start_serve(database, port, "--no-worker", *extra, log=tmp_path / f"serve-{port}.log")
        for port, extra in zip(ports, options, strict=True)
    ]
    plain, told = (f"http://127.0.0.1:{port}" for port in ports)
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_until(lambda p=port, s=server: up_or_exited(p, s), timeout=30)
            assert server.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
        rebound = submit(plain, {"Host": f"evil.example:{ports[0]}"})
        named = submit(told, {"Host": f"jobs.internal:{ports[1]}"})
        ignored = submit(plain, forwarded)
        trusted = submit(told, forwarded)
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        codes = [server.wait(20) for server in servers]

    assert (rebound.status_code, rebound.json()["error"]["code"]) == (400, "HostNotAllowed")
    assert named.status_code == 202
    assert named.headers["location"].startswith(f"http://jobs.internal:{ports[1]}/api/jobs/")
    assert ignored.status_code == 202
    assert ignored.headers["location"].startswith(f"{plain}/api/jobs/")
    assert (trusted.status_code, trusted.json()["error"]["code"]) == (403, "RemoteAccessDenied")
    assert codes == [0, 0]


def test_serve_without_the_server_extra_says_what_to_install(database: str) -> None:
    command = ["serve", "--app", "sample_jobs:app", "--database", database]
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVER_EXTRA, *command],
        cwd=HERE,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: underway serve needs the server extra, which is not installed "
        '(pip install "underway[server]")'
    )


def test_serve_sets_the_oldest_waiting_alert_and_refuses_a_threshold_of_zero(
    database: str, tmp_path: Path
) -> None:
    refused = run("serve", "--app", "sample_jobs:app", "--alert-oldest-waiting", "0")
    assert refused.returncode == 2
    assert "--alert-oldest-waiting" in refused.stderr
    port, log = free_port(), tmp_path / "serve.log"
    server = start_serve(database, port, "--alert-oldest-waiting", "90", log=log)
    try:
        wait_until(lambda: fetch(f"http://127.0.0.1:{port}/healthz")[0] == 200, timeout=30)
        status, alerts = fetch(f"http://127.0.0.1:{port}/api/alerts")
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(20) == 0, log.read_text()
    assert (status, alerts["oldestWaitingS"]) == (200, 90.0)
