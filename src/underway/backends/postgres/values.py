"""Values PostgreSQL refuses (NUL characters; NaN and Infinity in jsonb), caught before sending.

SQLite stores them; on PostgreSQL they would fail the whole statement. Arguments and results are
refused with a clear error; free text (log lines, messages, error details) has NUL replaced.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import psycopg

from ...errors import JobNotFound, ValidationError
from ...models import JobError
from ..codecs import data_to_json_text, error_to_data

T = TypeVar("T")
NUL = "\x00"
REPLACEMENT = "\ufffd"
#: A NUL character as JSON text writes it: `\u0000` after an even number of backslashes (an
#: odd one makes it the text "\u0000", a backslash then "u0000", which is storable).
ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


class UnstorableValue(ValueError):
    """A value that PostgreSQL's jsonb cannot hold."""


#: The stdlib's strict encoder, for the rare text that may hold NaN or Infinity.
_STRICT_JSON = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def jsonb_text(value: Any) -> str:
    """JSON text for a jsonb parameter, or UnstorableValue naming what is wrong."""
    text = data_to_json_text(value)
    if "NaN" in text or "Infinity" in text:
        # A float NaN or Infinity, or only those letters in a string: the strict encoder knows.
        try:
            text = _STRICT_JSON.encode(value)
        except ValueError:
            raise UnstorableValue(
                "NaN and Infinity cannot be stored as JSON on PostgreSQL"
            ) from None
    if "\\u0000" in text and ESCAPED_NUL.search(text):
        raise UnstorableValue(
            "the NUL character (U+0000) cannot be stored on PostgreSQL: "
            "leave it out, or send binary data as base64"
        )
    return text


def clean_text(value: T) -> T:
    """Free text with NUL characters replaced; anything else unchanged."""
    if isinstance(value, str) and NUL in value:
        return value.replace(NUL, REPLACEMENT)  # type: ignore[return-value]
    return value


def clean_data(value: T) -> T:
    """JSON data (dicts, lists, strings) with NUL characters replaced in every string."""
    if isinstance(value, dict):
        return {clean_text(k): clean_data(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [clean_data(v) for v in value]  # type: ignore[return-value]
    return clean_text(value)


def error_jsonb(error: JobError | None) -> str | None:
    """A stored error as jsonb text without its time, which each statement adds from the
    database's clock; NUL characters replaced."""
    data = error_to_data(error)
    if data is None:
        return None
    data.pop("at")
    return jsonb_text(clean_data(data))


def must_name_a_job(job_id: str) -> None:
    """Ids PostgreSQL cannot even compare (NUL inside) name no job."""
    if NUL in job_id:
        raise JobNotFound(job_id)


def refused(name: str, exc: psycopg.DataError) -> ValidationError:
    """What a caller gets for arguments PostgreSQL refused to store."""
    return ValidationError(name, [{"loc": (), "msg": f"cannot be stored: {exc}"}])
