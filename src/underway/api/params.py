"""Query parameters read strictly, so that what the OpenAPI document rejects is rejected."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Query

from .errors import ApiError, field_errors

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")

#: Stored times are epoch seconds, which outside this range do not convert back to datetimes;
#: earlier times are clamped to 1970 (for run_at: now), later ones to the end of 9998.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def timestamp_query(description: str) -> Any:
    """A query parameter holding an RFC 3339 date-time with its offset."""
    return Query(None, description=description, json_schema_extra={"format": "date-time"})


def parse_timestamp(value: str | None, name: str) -> datetime | None:
    """The datetime of an RFC 3339 query value, clamped to 1970..9998; 422 for anything else."""
    if value is None:
        return None
    parsed = _rfc3339(value)
    if parsed is None:
        message = f"{name} must be an RFC 3339 date-time with offset, e.g. 2030-01-31T09:00:00Z"
        error = {"loc": ("query", name), "msg": message, "type": "datetime_parsing"}
        raise ApiError(422, "InvalidRequest", message, details=field_errors([error]))
    return min(max(parsed, EARLIEST), LATEST)


def _rfc3339(value: str) -> datetime | None:
    if not RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
