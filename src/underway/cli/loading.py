"""Loading the user's App from an import path (`module:attribute`), and reading --args."""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from types import ModuleType
from typing import Any

from ..app import App
from ..errors import UnderwayError


class CommandError(UnderwayError):
    """Command-line input the CLI cannot act on (a bad import path, malformed JSON)."""


def load_app(path: str) -> App:
    """Import `module:attribute` (the current directory first on sys.path) and check it."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise CommandError(
            f"an app is named as module:attribute (e.g. myproject.jobs:app), not {path!r}"
        )
    cwd = os.getcwd()
    if not sys.path or sys.path[0] != cwd:
        sys.path.insert(0, cwd)
    target: Any = _import(module_name)
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CommandError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(target, App):
        raise CommandError(f"{path} is a {type(target).__name__}, not an underway App")
    return target


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise CommandError(
                f"cannot import {name!r}: no such module (run from its project directory "
                "or set PYTHONPATH)"
            ) from None
        raise CommandError(_import_failure(name, exc)) from None
    except Exception as exc:
        raise CommandError(_import_failure(name, exc)) from None


def _import_failure(name: str, exc: Exception) -> str:
    """One line naming the error and where the module raised it."""
    if isinstance(exc, SyntaxError):
        what, where = exc.msg, f"{exc.filename}:{exc.lineno}"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        what, where = str(exc), f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"importing {name!r} failed: {type(exc).__name__}: {what} (at {where})"


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
