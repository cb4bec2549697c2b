"""The HTTP API: FastAPI routes for submitting, following and managing jobs."""

from .application import create_api
from .auth import MANAGE, VIEW, parse_tokens
from .events import StreamSettings
from .serve import serve

__all__ = ["MANAGE", "VIEW", "StreamSettings", "create_api", "parse_tokens", "serve"]
