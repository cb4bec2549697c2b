"""Django integration: the project's underway app configured from `settings.UNDERWAY`, jobs
discovered in every installed app's `jobs.py`, `manage.py underway worker|serve|migrate`,
enqueues that join the current Django transaction, and the API and dashboard mounted in the
project's ASGI app (`underway.contrib.django.asgi`), behind Django's sign-in if wished.

Needs the `django` extra (`pip install underway[django]`); add `"underway.contrib.django"`
to INSTALLED_APPS."""

from __future__ import annotations

from .project_app import app
from .transactions import Enqueued, InTransaction, NotStoredYet, in_transaction

__all__ = ["Enqueued", "InTransaction", "NotStoredYet", "app", "in_transaction"]
