"""Storage backends; `open_backend` picks one from a database URL."""

from __future__ import annotations

from .base import Backend, Clock, SystemClock, open_backend

__all__ = ["Backend", "Clock", "SystemClock", "open_backend"]
