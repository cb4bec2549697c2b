"""Codecs both backends share: stored JSON text, epoch seconds and stored errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json, to_json

from ..models import JobError


def epoch_to_datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def json_text_to_data(value: str | bytes | None) -> Any:
    """Stored JSON text as data (pydantic-core's parser: several times faster than `json`)."""
    return None if value is None else from_json(value, cache_strings="keys")


def data_to_json_text(value: Any) -> str:
    """Compact JSON text of data; NaN and Infinity are kept as JSON's extensions, as `json`
    writes and reads them."""
    return to_json(value, inf_nan_mode="constants").decode()


def error_to_data(error: JobError | None, at: float | None = None) -> dict[str, Any] | None:
    """A JobError as stored JSON data; its rule only if one applied."""
    if error is None:
        return None
    data: dict[str, Any] = {
        "type": error.type,
        "message": error.message,
        "traceback": error.traceback,
        "attempt": error.attempt,
        "at": at if at is not None else (error.at.timestamp() if error.at else None),
    }
    if error.rule is not None:
        data["rule"] = error.rule
    return data


def error_from_data(data: Mapping[str, Any] | None) -> JobError | None:
    """Read a stored error as plain text fields; nothing in it is ever imported or executed."""
    if not isinstance(data, Mapping):
        return None
    at, rule = data.get("at"), data.get("rule")
    return JobError(
        type=str(data.get("type", "")),
        message=str(data.get("message", "")),
        traceback=str(data.get("traceback") or ""),
        attempt=int(data.get("attempt") or 0),
        at=epoch_to_datetime(float(at)) if isinstance(at, int | float) else None,
        rule=None if rule is None else str(rule),
    )
