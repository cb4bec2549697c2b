"""Finding the user's App: by its import path (`module:attribute`), named by an option, else
UNDERWAY_APP, else `app` under [tool.underway] in pyproject.toml. The CLI and the pytest
plugin find an app the same way."""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ConfigurationError
from .application import App

APP_VARIABLE = "UNDERWAY_APP"
PYPROJECT = "pyproject.toml"


@dataclass(frozen=True, slots=True)
class AppChoice:
    """An app's import path and what named it: an option, UNDERWAY_APP or pyproject.toml."""

    path: str
    named_by: str


def choose_app(option: str | None, option_name: str, project: Path) -> AppChoice | None:
    """The app named by the option, else UNDERWAY_APP, else [tool.underway] app in the
    pyproject.toml of the `project` folder; None if none names one."""
    if option:
        return AppChoice(option, option_name)
    from_environment = os.environ.get(APP_VARIABLE)
    if from_environment:
        return AppChoice(from_environment, APP_VARIABLE)
    from_pyproject = pyproject_app(project / PYPROJECT)
    if from_pyproject:
        return AppChoice(from_pyproject, PYPROJECT)
    return None


def pyproject_app(path: Path) -> str | None:
    """`app = "module:attribute"` under [tool.underway] of a project's pyproject.toml."""
    if not path.is_file():
        return None
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc} (fix it, or name the app)") from None
    value = document.get("tool", {}).get("underway", {}).get("app")
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(
            f'app under [tool.underway] in {path} must be a string like "proj.jobs:app"'
        )
    return value


def load_app(path: str) -> App:
    """Import `module:attribute` (the current directory first on sys.path) and check it."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(
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
            raise ConfigurationError(
                f"module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not isinstance(target, App):
        raise ConfigurationError(f"{path} is a {type(target).__name__}, not an underway App")
    return target


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise ConfigurationError(
                f"cannot import {name!r}: no such module (run from its project directory "
                "or set PYTHONPATH)"
            ) from None
        raise ConfigurationError(_import_failure(name, exc)) from None
    except Exception as exc:
        raise ConfigurationError(_import_failure(name, exc)) from None


def _import_failure(name: str, exc: Exception) -> str:
    """One line naming the error and where the module raised it."""
    if isinstance(exc, SyntaxError):
        what, where = exc.msg, f"{exc.filename}:{exc.lineno}"
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        what, where = str(exc), f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"importing {name!r} failed: {type(exc).__name__}: {what} (at {where})"
