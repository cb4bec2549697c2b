"""The ASGI app: Django, with underway's API and dashboard under /jobs for staff only."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
django_application = get_asgi_application()

from underway.contrib.django.asgi import mount  # noqa: E402  (needs Django set up)

application = mount(django_application, prefix="/jobs")
