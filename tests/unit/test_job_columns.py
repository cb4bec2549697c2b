"""The columns a job is read from, in the order of Job's fields."""

from __future__ import annotations

import dataclasses
import re

from underway.backends.rows import JOB_COLUMNS
from underway.backends.sqlite import reads
from underway.models import Job

#: Job's fields whose column is named otherwise.
COLUMN_OF = {"unique": "unique_mode"}


def test_job_columns_follow_the_fields_of_job() -> None:
    fields = [COLUMN_OF.get(f.name, f.name) for f in dataclasses.fields(Job)]
    assert list(JOB_COLUMNS) == fields


def test_sqlite_reads_many_jobs_in_the_order_of_job_columns() -> None:
    selected = re.search(r"SELECT(.*?)FROM", reads.GET_MANY, re.DOTALL)
    assert selected is not None
    assert [c.strip() for c in selected.group(1).split(",")] == list(JOB_COLUMNS)
