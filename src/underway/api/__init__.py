"""The HTTP API: FastAPI routes for submitting, following and managing jobs."""

from ..app.alerts import AlertRules
from ..web.event_streams import StreamSettings
from ..web.tokens import MANAGE, VIEW, parse_tokens
from .application import create_api
from .mount import include_in
from .serve import serve

__all__ = [
    "MANAGE",
    "VIEW",
    "AlertRules",
    "StreamSettings",
    "create_api",
    "include_in",
    "parse_tokens",
    "serve",
]
