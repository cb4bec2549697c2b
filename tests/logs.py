"""Reading what a logger said in a test."""

from __future__ import annotations

import pytest


def logged(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> list[str]:
    """The messages `logger` wrote at exactly `level`, in order."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == logger and record.levelno == level
    ]
