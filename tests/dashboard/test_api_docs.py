"""The interactive API docs: from the package (no network), behind the dashboard's sign-in."""

from __future__ import annotations

import re

from playwright.sync_api import Page, Route, expect

from ..api.support import LiveServer
from .conftest import sign_in
from .support import VIEW_TOKEN


def test_the_api_docs_render_from_the_package_without_any_other_host(
    anonymous: Page, server: LiveServer
) -> None:
    outside: list[str] = []
    console_errors: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    anonymous.context.route("**/*", only_this_server)
    anonymous.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    sign_in(anonymous, VIEW_TOKEN)
    anonymous.goto("/docs")

    expect(anonymous).to_have_url(re.compile(r"/dashboard/api-docs$"))
    expect(anonymous.locator(".swagger-ui .info .title")).to_contain_text("underway")
    expect(anonymous.locator(".opblock-summary-path", has_text="/api/jobs/add")).to_be_visible()
    assert outside == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []


def test_the_api_docs_need_a_sign_in(anonymous: Page) -> None:
    anonymous.goto("/docs")

    expect(anonymous).to_have_url(re.compile(r"/dashboard/login\?next=%2Fdashboard%2Fapi-docs$"))
    assert anonymous.request.get("/dashboard/api-docs/openapi.json").status == 401
    assert anonymous.request.get("/openapi.json").status == 401
