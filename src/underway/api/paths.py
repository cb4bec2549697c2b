"""Which documented path template a request path falls under, and the methods it accepts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.types import Scope

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class PathIndex:
    """Matches paths against the OpenAPI document; concrete paths win over templates."""

    def __init__(self, paths: Mapping[str, Mapping[str, Any]]) -> None:
        entries = []
        for template, operations in paths.items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            methods = sorted(m.upper() for m in operations if m in HTTP_METHODS)
            entries.append((template.count("{"), re.compile(f"^{pattern}$"), template, methods))
        self._entries = sorted(entries, key=lambda entry: entry[0])

    def match(self, path: str) -> tuple[str, list[str]] | None:
        """The template of a path and its methods, or None when no documented path fits."""
        for _, pattern, template, methods in self._entries:
            if pattern.match(path):
                return template, methods
        return None


def path_index(scope: Scope) -> PathIndex:
    """The index of the API serving this request, built once from its OpenAPI document."""
    state = scope["app"].state
    index: PathIndex | None = getattr(state, "path_index", None)
    if index is None:
        index = state.path_index = PathIndex(scope["app"].openapi().get("paths", {}))
    return index
