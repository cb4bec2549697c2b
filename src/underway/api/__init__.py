"""The HTTP API: FastAPI routes for submitting, following and managing jobs."""

from ..web.event_streams import StreamSettings
from ..web.tokens import MANAGE, VIEW, parse_tokens
from .application import create_api
from .serve import serve

__all__ = ["MANAGE", "VIEW", "StreamSettings", "create_api", "parse_tokens", "serve"]
