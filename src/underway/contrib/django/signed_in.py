"""Who is signed in to the Django site, for an ASGI request that Django itself never sees:
the session cookie read as Django's session and auth middleware read it."""

from __future__ import annotations

import io
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest

NEEDED_APPS = ("django.contrib.auth", "django.contrib.sessions")


def check_sign_in_available() -> None:
    """Refuse to guard the dashboard with Django's sign-in if the project has none."""
    missing = [name for name in NEEDED_APPS if not apps.is_installed(name)]
    if missing:
        raise ImproperlyConfigured(
            f"the underway dashboard behind Django's sign-in needs {' and '.join(missing)} in "
            "INSTALLED_APPS; add them, or mount it with staff_only=False to use API tokens"
        )


async def user_of(scope: dict[str, Any]) -> AbstractBaseUser | AnonymousUser:
    """The Django user whose session cookie the request carries (AnonymousUser if none)."""
    return await sync_to_async(_user_of, thread_sensitive=True)(scope)


def _user_of(scope: dict[str, Any]) -> AbstractBaseUser | AnonymousUser:
    from django.contrib.auth import get_user

    request = ASGIRequest(scope, io.BytesIO())
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    return get_user(request)


def is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """An active, signed-in staff member (as the Django admin requires)."""
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))
