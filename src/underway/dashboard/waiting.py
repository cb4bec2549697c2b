"""The job page's "Why it is waiting" lines: what holds a waiting job, each job it names a
link to that job's page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..app import App
from ..errors import JobNotFound
from ..models import Job, JobState

WAITING = frozenset({JobState.WAITING, JobState.PENDING, JobState.SCHEDULED})


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a line: text, and the id of the job it names if it is one (a link)."""

    text: str
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class WaitLine:
    """One hold on the job: its kind, and its message cut around the job ids in it."""

    kind: str
    parts: tuple[Part, ...]


async def why_waiting(app: App, job: Job) -> list[WaitLine]:
    """The holds on a waiting job, most fundamental first; none for any other job."""
    if job.state not in WAITING:
        return []
    try:
        explanation = await app.explain_async(job.id)
    except JobNotFound:  # deleted since the page read it
        return []
    return [
        WaitLine(reason.kind, linked_ids(reason.message, reason.job_ids))
        for reason in explanation.reasons
    ]


def linked_ids(message: str, job_ids: tuple[str, ...]) -> tuple[Part, ...]:
    """`message` cut into text and the job ids it names, so that the page links each id;
    the template escapes every part."""
    if not job_ids:
        return (Part(message),)
    ids = re.compile("|".join(re.escape(i) for i in sorted(set(job_ids), key=len, reverse=True)))
    parts, last = [], 0
    for match in ids.finditer(message):
        parts += [Part(message[last : match.start()]), Part(match.group(), match.group())]
        last = match.end()
    parts.append(Part(message[last:]))
    return tuple(part for part in parts if part.text)
