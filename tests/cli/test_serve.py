"""`underway serve`: the HTTP API and a worker in one process, and its refusal to be exposed."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request
from pathlib import Path

from .commands import run, start, wait_until


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


def test_serve_runs_the_api_and_a_worker_until_sigterm(database: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(
        "serve",
        "sample_jobs:app",
        "--port",
        str(port),
        "--database",
        database,
        log=tmp_path / "serve.log",
    )
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


def test_serve_refuses_a_public_address_without_tokens(database: str) -> None:
    result = run("serve", "sample_jobs:app", "--host", "0.0.0.0", "--database", database)
    assert result.returncode == 1
    assert result.stderr.startswith("error: refusing to serve the API on 0.0.0.0 without tokens")
    assert "Traceback" not in result.stderr
