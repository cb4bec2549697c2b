"""`create_api`: the FastAPI application serving one underway App."""

from __future__ import annotations

from fastapi import FastAPI

from ..app import App
from ..app.alerts import AlertRules
from ..dashboard import router as dashboard_router
from ..web.event_streams import StreamSettings
from ..web.hosts import HostNames, allowed_hosts_for
from ..web.tokens import Guard, TokenSpec, resolve_tokens
from . import bulk, events, history, jobs, metrics, queues, recurring, system, workflows
from .auth import LocalOnly
from .errors import install_error_handlers
from .host_check import HostCheck
from .limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from .openapi import install_openapi
from .submit import install_submit_routes

DEFAULT_MAX_WAIT_S = 30.0
DESCRIPTION = (
    "Submit jobs with `POST /api/jobs/{job name}` (202 Accepted), poll `Location` (the job "
    "monitor) or `Operation-Location` (the LRO status view), read the output once completed. "
    "Bearer tokens with scope `jobs:view` read, `jobs:manage` changes."
)


def create_api(
    app: App,
    *,
    tokens: TokenSpec = None,
    insecure: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    streams: StreamSettings | None = None,
    allowed_hosts: HostNames | None = None,
    alert_rules: AlertRules | None = None,
) -> FastAPI:
    """Build the HTTP API of `app`.

    `tokens` maps tokens to scopes (or is `"tok1:jobs:view,tok2:jobs:manage"`); None reads
    UNDERWAY_TOKENS. With no tokens only loopback clients are served, unless `insecure`.
    `allowed_hosts` names the hosts served besides localhost, 127.0.0.1 and [::1]; None means
    any host with tokens and only those three without. `alert_rules` sets the thresholds of
    the overview's and `GET /api/alerts`' alerts.
    """
    # No open /openapi.json or /docs: install_openapi and the dashboard serve them under view.
    api = FastAPI(
        title="underway",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    api.state.underway = app
    api.state.guard = Guard(resolve_tokens(tokens), insecure=insecure)
    api.state.hosts = allowed_hosts_for(allowed_hosts, tokens=api.state.guard.enabled)
    api.state.streams = streams or StreamSettings()
    api.state.alert_rules = alert_rules or AlertRules()
    api.state.metrics = metrics.ApiMetrics()
    install_error_handlers(api)
    install_submit_routes(api, app, max_wait_s=max_wait_s)
    routers = (
        jobs.router,
        bulk.router,
        recurring.router,
        queues.router,
        workflows.router,
        events.router,
        system.router,
        history.router,
        metrics.router,
    )
    for router in routers:
        api.include_router(router)
    api.include_router(dashboard_router)
    install_openapi(api, app)
    api.add_middleware(metrics.RequestMetrics, metrics=api.state.metrics)
    api.add_middleware(BodySizeLimit, max_body_bytes=max_body_bytes)
    if not api.state.hosts.any:
        api.add_middleware(HostCheck, hosts=api.state.hosts)
    if not api.state.guard.enabled and not insecure:
        api.add_middleware(LocalOnly)
    return api
