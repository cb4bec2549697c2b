"""The error of command-line input the CLI cannot act on, and reading --args."""

from __future__ import annotations

import json
from typing import Any

from ..errors import UnderwayError


class CommandError(UnderwayError):
    """Command-line input the CLI cannot act on (a bad import path, malformed JSON)."""


def json_arguments(text: str) -> dict[str, Any]:
    """The --args option: a JSON object of job arguments."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--args is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CommandError(
            f'--args must be a JSON object like \'{{"month": "2026-10"}}\', got {text!r}'
        )
    return value
