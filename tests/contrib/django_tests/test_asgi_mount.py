"""The API and dashboard mounted in the shop's ASGI app under /jobs, behind Django's sign-in:
anonymous visitors go to the login page, other users are refused, staff get in; the rest of
the site is Django's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

pytestmark = pytest.mark.postgres
#: The shop's ASGI app is made once, as a server makes it: its requests share one event loop.
one_loop = pytest.mark.asyncio(loop_scope="module")
PAGE = {"accept": "text/html"}


@pytest_asyncio.fixture(loop_scope="module")
async def site(sqlite_jobs: str) -> AsyncIterator[httpx.AsyncClient]:
    from shopsite.asgi import application

    from underway.contrib.django import app

    app.list(limit=1)  # opened on its own loop, as a server's first request would find it
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def session_of(username: str, *, staff: bool) -> dict[str, str]:
    """The session cookie of a signed-in user (created if need be)."""
    from django.contrib.auth.models import User

    user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": staff})
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


@one_loop
async def test_an_anonymous_visitor_of_the_dashboard_is_sent_to_the_login_page(
    site: httpx.AsyncClient,
) -> None:
    answer = await site.get("/jobs/dashboard", headers=PAGE)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/accounts/login/?next=/jobs/dashboard"


@one_loop
async def test_an_anonymous_api_call_is_unauthenticated(site: httpx.AsyncClient) -> None:
    answer = await site.get("/jobs/api/jobs")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "Unauthenticated"


@one_loop
async def test_a_signed_in_user_who_is_not_staff_is_refused(site: httpx.AsyncClient) -> None:
    site.cookies.update(await sync_to_async(session_of)("customer", staff=False))
    answer = await site.get("/jobs/dashboard", headers=PAGE)
    assert answer.status_code == 403


@one_loop
async def test_staff_see_the_dashboard_and_the_api(site: httpx.AsyncClient) -> None:
    site.cookies.update(await sync_to_async(session_of)("manager", staff=True))
    page = await site.get("/jobs/dashboard", headers=PAGE)
    assert page.status_code == 200
    assert 'href="/jobs/dashboard' in page.text
    listing = await site.get("/jobs/api/jobs")
    assert listing.status_code == 200
    assert "items" in listing.json()


@one_loop
async def test_paths_beside_the_prefix_are_djangos(site: httpx.AsyncClient) -> None:
    answer = await site.get("/jobsx/dashboard", headers=PAGE)
    assert answer.status_code == 404
    assert "underway" not in answer.text


def test_a_prefix_is_required(shop: object) -> None:
    from underway.contrib.django.asgi import mount

    with pytest.raises(ImproperlyConfigured, match="whole Django site"):
        mount(lambda *a: None, prefix="/")  # type: ignore[arg-type]


def test_tokens_are_refused_when_staff_guard_the_api(shop: object) -> None:
    from underway.contrib.django.asgi import mount

    with pytest.raises(ImproperlyConfigured, match="staff_only=False"):
        mount(lambda *a: None, prefix="/jobs", tokens="t:jobs:view")  # type: ignore[arg-type]


def test_allowed_hosts_are_djangos(shop: object) -> None:
    from underway.contrib.django.asgi import django_hosts

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "ALLOWED_HOSTS", [".example.com", "api.test"])
        assert django_hosts() == ["example.com", "*.example.com", "api.test"]


@pytest.mark.parametrize(
    ("root", "path", "goes_to", "api_root"),
    [
        ("", "/jobs/dashboard", "api", "/jobs"),
        ("", "/jobs", "api", "/jobs"),
        ("", "/jobsx/dashboard", "django", None),
        ("", "/orders", "django", None),
        ("/shop", "/shop/jobs/api/jobs", "api", "/shop/jobs"),
        ("/shop", "/shop/orders", "django", None),
    ],
)
async def test_requests_under_the_prefix_go_to_underway(
    shop: object, root: str, path: str, goes_to: str, api_root: str | None
) -> None:
    from underway.contrib.django.asgi import UnderwayMount

    seen: list[tuple[str, dict[str, Any]]] = []

    def recorder(name: str) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            seen.append((name, scope))

        return app

    site = UnderwayMount(recorder("django"), recorder("api"), "/jobs", staff_only=False)
    await site({"type": "http", "path": path, "root_path": root}, None, None)  # type: ignore[arg-type]
    await site({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert [name for name, _ in seen] == [goes_to, "api"]
    assert seen[0][1]["root_path"] == (api_root or root)
