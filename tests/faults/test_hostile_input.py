"""24. Hostile and bad input against a real server and a real browser, counted as one row.

The API and dashboard tests check each case on its own; this scenario runs the whole battery
of the reliability contract (docs/reliability.md) against one live server and reports the
figures the contract names: http_5xx, rows stored by rejected requests, authorization
failures that succeeded, XSS dialogs, and executed deserialization payloads. A DNS-rebinding
attack on a real `underway serve` process in open mode (S1) is counted with them: requests it
got served.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.support import LiveServer
from tests.dashboard.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MANAGE_TOKEN,
    TOKENS,
    VIEW_TOKEN,
    XSS,
    build_app,
    chromium_missing_message,
    hostile_pages,
)
from tests.faults import probe
from tests.faults.harness import ROOT, Figures, report
from tests.waiting import wait_until
from underway import App, JobFilter
from underway.api import create_api

MANAGE = {"Authorization": f"Bearer {MANAGE_TOKEN}"}
VIEW = {"Authorization": f"Bearer {VIEW_TOKEN}"}
JSON = {"Content-Type": "application/json"}
#: Bodies for POST /api/jobs/add(a: int, b: int = 2) and the status each must get.
BAD_BODIES = [
    (b"{bad", 400),
    (b'{"a": NaN}', 400),
    (b'{"a": Infinity}', 400),
    (b'{"a": 1e400}', 400),
    (b'{"a": "\xff\xfe"}', 400),
    (b'{"a": "\\ud800"}', 400),
    (b"[" * 10_000 + b"]" * 10_000, 400),
    (b'{"a": ' * 10_000 + b"1" + b"}" * 10_000, 400),
    (b'{"a": "x"}', 422),
    (b'{"a": 1, "surprise": 2}', 422),
    (b"[1, 2]", 422),
    (b"", 422),
]
#: The attacker's name, which the browser resolves to 127.0.0.1 after DNS rebinding.
REBOUND = "evil.example"
HOSTILE_NAMES = ["nope", "<script>alert(1)</script>", "..", "%2e%2e", "a%2Fb", "%2e%2e%2fadd"]


class Battery:
    """Sends requests, remembering every status and how many rows rejected ones stored."""

    def __init__(self, app: App, http: httpx.Client) -> None:
        self.app = app
        self.http = http
        self.statuses: Counter[int] = Counter()
        self.rows_stored_on_rejected = 0
        self.authz_succeeded = 0

    def rows(self) -> int:
        return self.app.list_page(JobFilter(limit=1)).total

    def send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
        self.statuses[response.status_code] += 1
        return response

    def rejected(self, method: str, url: str, expected: int, **kwargs: object) -> None:
        """A request that must be refused with `expected` and must store nothing."""
        before = self.rows()
        response = self.send(method, url, **kwargs)
        assert response.status_code == expected, (url, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), url
        self.rows_stored_on_rejected += self.rows() - before

    def unauthorized(self, method: str, url: str, expected: int, **kwargs: object) -> None:
        response = self.send(method, url, **kwargs)
        if response.is_success:
            self.authz_succeeded += 1
        assert response.status_code == expected, (method, url, response.status_code)

    @property
    def http_5xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, LiveServer]]:
    app = build_app(f"sqlite:///{tmp_path / 'jobs.db'}")
    app.start_worker(concurrency=2, poll_interval=0.05, flush_interval=0.05, shutdown_grace=1.0)
    server = LiveServer(create_api(app, tokens=TOKENS, max_body_bytes=1024 * 1024)).start()
    yield app, server
    server.stop()
    app.close()


def test_hostile_and_bad_input(served: tuple[App, LiveServer], tmp_path: Path) -> None:
    """24. Every bad input gets a clear 4xx, nothing is stored, nothing runs, no 5xx."""
    missing = chromium_missing_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    app, server = served
    figures = Figures("hostile_and_bad_input")
    began = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        battery = Battery(app, http)
        for body, status in BAD_BODIES:
            battery.rejected("POST", "/api/jobs/add", status, content=body, headers=MANAGE | JSON)
        for name in HOSTILE_NAMES:
            battery.rejected("POST", f"/api/jobs/{name}", 404, json={"a": 1}, headers=MANAGE)
        battery.rejected(
            "POST", "/api/jobs/add", 413, content=b"1" * 2 * 1024 * 1024, headers=MANAGE | JSON
        )
        battery.rejected(
            "POST", "/api/jobs/add", 413, content=_chunks(100 * 1024 * 1024), headers=MANAGE | JSON
        )
        battery.rejected("POST", "/api/jobs/add?delay=-1", 422, json={"a": 1}, headers=MANAGE)
        battery.rejected("POST", "/api/jobs/add?priority=x", 422, json={"a": 1}, headers=MANAGE)
        battery.rejected(
            "POST",
            "/api/recurring",
            422,
            json={"name": "n", "cron": "61 * * * *", "job": "add", "args": {"a": 1}},
            headers=MANAGE,
        )
        battery.rejected("GET", "/api/jobs/not-a-job-id", 404, headers=MANAGE)

        target = app.enqueue("flaky", {"key": "k"})  # fails: something to retry, cancel, delete
        wait_until(lambda: app.get(target.id).state.is_finished, timeout=10)
        recurring_id = app.add_recurring("nightly", "0 3 * * *", "add", {"a": 1})
        for method, url in [
            ("POST", "/api/jobs/add"),
            ("GET", "/api/jobs"),
            ("GET", f"/api/jobs/{target.id}"),
            ("DELETE", f"/api/jobs/{target.id}"),
            ("POST", f"/api/jobs/{target.id}/retry"),
            ("GET", "/api/recurring"),
        ]:
            battery.unauthorized(method, url, 401, json={"a": 1} if method == "POST" else None)
        for method, url in [
            ("POST", "/api/jobs/add"),
            ("POST", f"/api/jobs/{target.id}/cancel"),
            ("POST", f"/api/jobs/{target.id}/retry"),
            ("DELETE", f"/api/jobs/{target.id}"),
            ("POST", f"/api/recurring/{recurring_id}/toggle"),
            ("POST", f"/api/recurring/{recurring_id}/trigger"),
            ("DELETE", f"/api/recurring/{recurring_id}"),
        ]:
            battery.unauthorized(
                method, url, 403, headers=VIEW, json={"a": 1} if url.endswith("add") else None
            )
        assert app.get(target.id).state.value == "failed"
        assert app.get_recurring(recurring_id).enabled

        battery.authz_succeeded += remote_clients_without_tokens_succeed(app)
        executed = deserialization_payloads_executed(app, battery, tmp_path)
        dialogs, csp_ok, forged_ok = browse_hostile_pages(app, server, battery)
    rebinding_served = dns_rebinding_served(battery, tmp_path)

    figures.duration_s = round(time.monotonic() - began, 1)
    figures.notes.update(
        requests=sum(battery.statuses.values()),
        http_5xx=battery.http_5xx,
        rows_stored_on_rejected_requests=battery.rows_stored_on_rejected,
        authz_failures_that_succeeded=battery.authz_succeeded + forged_ok,
        xss_dialogs=dialogs,
        executed_payloads=executed,
        dns_rebinding_served=rebinding_served,
        csp_held=csp_ok,
    )
    problems = [k for k, v in figures.notes.items() if k not in ("requests", "csp_held") and v]
    if not csp_ok:
        problems.append("csp")
    report(figures, problems)
    assert not problems, figures.notes


def _chunks(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    """A chunked body of `total` bytes: the server must refuse it without reading it all."""
    chunk = b"1" * size
    for _ in range(total // size):
        yield chunk


def remote_clients_without_tokens_succeed(app: App) -> int:
    """With no tokens configured, a client that is not on loopback is refused everything."""
    succeeded = 0
    with TestClient(create_api(app), client=("203.0.113.9", 5000)) as remote:
        for url in ("/api/stats", "/api/jobs", "/dashboard", "/openapi.json"):
            response = remote.get(url, follow_redirects=False)
            succeeded += response.is_success
    return succeeded


def deserialization_payloads_executed(app: App, battery: Battery, tmp_path: Path) -> int:
    """Store the Celery CVE-2021-23727 payload as a result and an error; read it everywhere.

    Executing or importing it would create the marker file; it must only ever be shown as text.
    """
    marker = tmp_path / "payload-ran"
    payload = {
        "exc_module": "os",
        "exc_type": "system",
        "exc_message": [f"touch {marker}"],
        "__reduce__": ["os.system", [f"touch {marker}"]],
        "py/object": "os.system",
    }
    done = app.enqueue("add", {"a": 1})
    failed = app.enqueue("flaky", {"key": "payload"})
    wait_until(lambda: all(app.get(j.id).state.is_finished for j in (done, failed)), timeout=10)
    database = app.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        conn.execute(
            "UPDATE underway_jobs SET result = ? WHERE id = ?", (json.dumps(payload), done.id)
        )
        conn.execute(
            "UPDATE underway_jobs SET error = ? WHERE id = ?",
            (json.dumps({**payload, "type": "os.system", "message": XSS}), failed.id),
        )
    for job in (done, failed):
        for url in (f"/api/jobs/{job.id}?redirect=false", f"/api/jobs/{job.id}/output"):
            response = battery.send("GET", url, headers=MANAGE)
            assert response.status_code < 500, (url, response.text)
    output = battery.send("GET", f"/api/jobs/{done.id}/output", headers=MANAGE)
    assert output.json() == payload, "the stored result comes back as plain data"
    assert app.get(done.id).result == payload
    app.get(failed.id)
    return int(marker.exists())


def browse_hostile_pages(app: App, server: LiveServer, battery: Battery) -> tuple[int, bool, int]:
    """Open every dashboard page with hostile text in Chromium: (dialogs, CSP held, forgeries
    that succeeded)."""
    from playwright.sync_api import sync_playwright

    job = app.enqueue("hostile", {"payload": XSS, "nested": {XSS: [XSS, "</pre><script>alert(2)"]}})
    wait_until(lambda: app.get(job.id).state.is_finished, timeout=10)
    app.add_recurring(XSS, "0 3 * * *", "add", {"a": 1})
    payload_jobs = [j.id for j in app.list(limit=100)]
    dialogs: list[str] = []
    csp_ok = True
    forged_ok = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=server.url).new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto("/dashboard/login")
        page.get_by_label("API token").fill(MANAGE_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard")
        for url in hostile_pages(*payload_jobs):
            response = page.goto(url)
            assert response is not None
            battery.statuses[response.status] += 1
            csp = response.headers.get("content-security-policy", "")
            csp_ok &= "script-src 'self'" in csp and "unsafe-inline" not in csp
        before = battery.rows()
        for form, headers in [
            ({}, {}),
            ({"csrf": "forged"}, {}),
            ({"csrf": _csrf_of(page)}, {"Origin": "http://evil.example"}),
        ]:
            forged = page.request.post(
                f"/dashboard/jobs/{job.id}/retry", form=form, headers=headers
            )
            battery.statuses[forged.status] += 1
            forged_ok += forged.ok
        battery.rows_stored_on_rejected += battery.rows() - before
        assert app.get(job.id).state.value == "failed"
        browser.close()
    return len(dialogs), csp_ok, forged_ok


def _csrf_of(page: object) -> str:
    value = page.locator("input[name=csrf]").first.get_attribute("value")  # type: ignore[attr-defined]
    assert value
    return str(value)


def dns_rebinding_served(battery: Battery, tmp_path: Path) -> int:
    """Requests an `underway serve` in open mode answered under the attacker's host name.

    A page on evil.example whose name now resolves to 127.0.0.1 tries, from Chromium and from
    plain HTTP with the CSRF token a local page handed out: submit, list, read the dashboard
    and cancel a running job. Each must be refused and leave the database as it was.
    """
    url = f"sqlite:///{tmp_path / 'rebinding.db'}"
    app = App(url)
    app.registry.update(probe.app.registry)
    app.migrate()
    port = _free_port()
    server = _start_serve(url, port, tmp_path / "rebinding-serve.log")
    local = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: server.poll() is not None or _health(local) == 200, timeout=30)
        assert server.poll() is None, (tmp_path / "rebinding-serve.log").read_text()
        job = app.enqueue("probe", {"key": "rebinding", "duration_ms": 60_000})
        wait_until(lambda: app.get(job.id).state.value == "running", timeout=10)
        before = app.list_page(JobFilter(limit=1)).total
        served = _rebound_http(battery, local, port, job.id) + _rebound_browser(port)
        battery.rows_stored_on_rejected += app.list_page(JobFilter(limit=1)).total - before
        served += app.get(job.id).state.value != "running"
        if not app.get(job.id).state.is_finished:
            app.cancel(job.id)
        wait_until(lambda: app.get(job.id).state.is_finished, timeout=10)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        app.close()
    return served


def _rebound_http(battery: Battery, local: str, port: int, job_id: str) -> int:
    rebound = {"Host": f"{REBOUND}:{port}", "Origin": f"http://{REBOUND}:{port}"}
    served = 0
    with httpx.Client(base_url=local, timeout=10) as http:
        page = http.get(f"/dashboard/jobs/{job_id}")  # what the attacker read before the fix
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        for method, path, kwargs in [
            ("POST", "/api/jobs/probe", {"json": {"key": "from-evil"}}),
            ("GET", "/api/jobs", {}),
            ("GET", "/dashboard", {}),
            ("GET", f"/dashboard/jobs/{job_id}", {}),
            ("POST", f"/dashboard/jobs/{job_id}/cancel", {"data": {"csrf": csrf}}),
        ]:
            response = http.request(method, path, headers=rebound, **kwargs)
            battery.statuses[response.status_code] += 1
            served += response.status_code != 400
    return served


def _rebound_browser(port: int) -> int:
    """Chromium resolving evil.example to 127.0.0.1: the page and its fetch are refused."""
    from playwright.sync_api import sync_playwright

    rules = f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules])
        page = browser.new_page()
        response = page.goto(f"http://{REBOUND}:{port}/dashboard")
        assert response is not None
        submitted = page.evaluate(
            """() => fetch("/api/jobs/probe", {method: "POST", body: '{"key": "page"}',
                    headers: {"Content-Type": "application/json"}}).then(r => r.status)"""
        )
        browser.close()
    return (response.status != 400) + (submitted != 400)


def _start_serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """`underway serve` as documented, with no tokens: open mode on 127.0.0.1."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAULT_DIR": str(log.parent)}
    env.pop("UNDERWAY_TOKENS", None)
    command = ["serve", "--app", "tests.faults.probe:app", "--port", str(port), "--database", url]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "underway", *command],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _health(base: str) -> int:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
