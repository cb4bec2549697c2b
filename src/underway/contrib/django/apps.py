"""The Django app: configures the project's underway App and imports every `jobs.py`."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

from .project_app import configure, underway_settings


class UnderwayConfig(AppConfig):
    """`"underway.contrib.django"` in INSTALLED_APPS: settings read, jobs discovered."""

    name = "underway.contrib.django"
    label = "underway"
    verbose_name = "underway"

    def ready(self) -> None:
        configure()
        autodiscover_modules(underway_settings().jobs_module)
