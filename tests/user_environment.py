"""The environment of a user's own run of a script or of pytest, for the tests that start one:
this run's underway settings left out, and pytest without the plugins that only underway's
own test tools install (hypothesis and schemathesis), which a user's project does not load
because of underway and whose import takes most of a small pytest run's start."""

from __future__ import annotations

import os

#: PYTEST_ADDOPTS of a user's pytest run.
USER_PYTEST_ADDOPTS = "-p no:hypothesispytest -p no:schemathesis"


def without_underway_settings() -> dict[str, str]:
    """This process's environment, without this run's UNDERWAY_ settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("UNDERWAY_")}


def user_environment() -> dict[str, str]:
    """`without_underway_settings`, for a user's pytest run."""
    return {**without_underway_settings(), "PYTEST_ADDOPTS": USER_PYTEST_ADDOPTS}
