"""`serve`: run the HTTP API on uvicorn, with an in-process worker for the server's lifetime."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn

from ..app import App
from ..app.alerts import AlertRules
from ..config import WorkerSettings
from ..errors import ConfigurationError
from ..web.hosts import HostNames
from ..web.tokens import TokenSpec, resolve_tokens
from .application import create_api

log = logging.getLogger("underway.api")
LOOPBACK = "127.0.0.1"


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_host(host: str, has_tokens: bool, insecure: bool) -> str:
    """The address to bind: loopback unless tokens protect the API or `insecure` is explicit."""
    if not has_tokens and not insecure and not is_loopback_host(host):
        raise ConfigurationError(
            f"refusing to serve the API on {host} without tokens: anyone who can reach it could "
            "run and cancel jobs. Configure tokens (--token or UNDERWAY_TOKENS), bind 127.0.0.1, "
            "or pass --insecure if the network is trusted."
        )
    return host


def serve(
    app: App,
    host: str = LOOPBACK,
    port: int = 8000,
    tokens: TokenSpec = None,
    insecure: bool = False,
    worker: bool = True,
    worker_settings: WorkerSettings | None = None,
    allowed_hosts: HostNames | None = None,
    forwarded_allow_ips: str | Sequence[str] | None = None,
    alert_rules: AlertRules | None = None,
    **uvicorn_options: Any,
) -> None:
    """Serve the API until interrupted; stop the in-process worker gracefully afterwards.

    Without tokens only a loopback `host` is allowed, unless `insecure`. `allowed_hosts` as in
    `create_api`. X-Forwarded-For and -Proto are believed only from the proxy addresses in
    `forwarded_allow_ips`. `worker=False` serves a producer-only web tier. `alert_rules` as in
    `create_api`. Extra keyword arguments go to `uvicorn.run`.
    """
    resolved = resolve_tokens(tokens)
    address = bind_host(host, bool(resolved), insecure)
    api = create_api(
        app,
        tokens=resolved,
        insecure=insecure,
        allowed_hosts=allowed_hosts,
        alert_rules=alert_rules,
    )
    if not resolved:
        log.warning(
            "no API tokens configured: the API on %s:%s is open to %s, under the host names %s",
            address,
            port,
            "everyone who can reach it" if insecure else "every local user of this machine",
            ", ".join(api.state.hosts.patterns),
        )
    proxies = proxy_options(forwarded_allow_ips)
    config = uvicorn.Config(api, host=address, port=port, **proxies, **uvicorn_options)
    running = app.start_worker(worker_settings) if worker else None
    try:
        DrainingServer(config).run()
    finally:
        if running is not None:
            running.stop()


def proxy_options(forwarded_allow_ips: str | Sequence[str] | None) -> dict[str, Any]:
    """uvicorn's proxy settings: forwarded headers count only from the proxies named."""
    if forwarded_allow_ips is None:
        return {"proxy_headers": False}
    allowed = (
        forwarded_allow_ips if isinstance(forwarded_allow_ips, str) else list(forwarded_allow_ips)
    )
    return {"proxy_headers": True, "forwarded_allow_ips": allowed}


class DrainingServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after shutdown.

    uvicorn re-raises SIGTERM/SIGINT once it has shut down, which would kill the process before
    the in-process worker hands its running jobs back; here `serve` returns and drains instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()
