"""Workflows and batches written as JSON (the HTTP API's bodies, the CLI's files): their shapes
as Pydantic models, and the reader that turns a document into steps of registered jobs,
naming where in the document each error is (`flow.chain[1].group[0].args.tenant`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from ..errors import ConfigurationError, UnderwayError, UnknownJobError, ValidationError
from .workflow_controls import WorkflowControls
from .workflow_handle import WorkflowHandle
from .workflows import Part, Step, chain, group

#: Free text without control characters (PostgreSQL stores no NUL).
TEXT = r"^[^\x00-\x1f\x7f]*$"
PRIORITY_RANGE = 1_000_000
MAX_TOLERATE = 1_000_000
#: The keys that tell a step, a chain and a group apart, in this order.
PART_KEYS = ("job", "chain", "group")
CALLBACKS = ("on_complete", "on_success", "on_failure")

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class WorkflowDocumentError(UnderwayError, ValueError):
    """A workflow or batch document that cannot be started; nothing was stored. `errors` are
    {loc, msg, type}, each `loc` a path in the document."""

    def __init__(self, what: str, errors: Sequence[dict[str, Any]]) -> None:
        self.errors = list(errors)
        details = "; ".join(f"{location(e['loc'])}: {e['msg']}" for e in self.errors)
        super().__init__(f"invalid {what} document: {details}")


def location(loc: Loc) -> str:
    """A path in a document as written: `flow.chain[1].args.tenant`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(document)"


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StepDocument(_Shape):
    """One job: a registered job's name, its arguments, and what it waits for."""

    job: str = Field(min_length=1, max_length=200, description="A registered job's name.")
    args: dict[str, Any] = Field(default_factory=dict, description="The job's arguments.")
    queue: str | None = Field(None, min_length=1, max_length=200, pattern=TEXT)
    priority: int | None = Field(None, ge=-PRIORITY_RANGE, le=PRIORITY_RANGE)
    run_if: Literal["completed", "ended", "failed"] = Field(
        "completed",
        description="Run once what comes before completed (default), ended whatever "
        "happened, or once something failed.",
    )
    tolerate: int = Field(
        0, ge=0, le=MAX_TOLERATE, description="Failures before it that it runs despite."
    )
    results_into: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The parameter that receives the results of what comes before it (a "
        "batch callback: the batch's summary).",
    )


class ChainDocument(_Shape):
    """Parts run one after another."""

    chain: list[PartDocument] = Field(min_length=1)


class GroupDocument(_Shape):
    """Parts run side by side; what follows waits for all of them."""

    group: list[PartDocument] = Field(min_length=1)
    tolerate: int = Field(
        0,
        ge=0,
        le=MAX_TOLERATE,
        description="Failures among the parts that what follows runs despite.",
    )


def _part_kind(value: Any) -> str | None:
    keys = value if isinstance(value, dict) else {}
    return next((key for key in PART_KEYS if key in keys), None)


PartDocument = Annotated[
    Annotated[StepDocument, Tag("job")]
    | Annotated[ChainDocument, Tag("chain")]
    | Annotated[GroupDocument, Tag("group")],
    Discriminator(
        _part_kind,
        custom_error_type="workflow_part",
        custom_error_message='expected a step {"job": ...}, a chain {"chain": [...]} or a '
        'group {"group": [...]}',
    ),
]


class WorkflowDocument(_Shape):
    """A workflow: one part, usually a chain, its first jobs ready at once."""

    name: str | None = Field(None, max_length=200, pattern=TEXT)
    flow: PartDocument


class BatchDocument(_Shape):
    """Jobs run side by side, and callbacks enqueued once when the last of them ends."""

    name: str | None = Field(None, max_length=200, pattern=TEXT)
    jobs: list[StepDocument] = Field(min_length=1)
    on_complete: StepDocument | None = Field(None, description="Runs whatever happened.")
    on_success: StepDocument | None = Field(None, description="Runs if every job completed.")
    on_failure: StepDocument | None = Field(None, description="Runs if a job did not complete.")


ChainDocument.model_rebuild()
GroupDocument.model_rebuild()
WorkflowDocument.model_rebuild()


@dataclass(frozen=True, slots=True)
class WorkflowPlan:
    """A workflow read from JSON, its steps validated: what `start` stores."""

    flow: Part
    name: str | None = None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """A batch read from JSON, its steps validated: what `start` stores."""

    members: list[Step[Any]]
    callbacks: dict[str, Step[Any]] = field(default_factory=dict)
    name: str | None = None


Plan = WorkflowPlan | BatchPlan


def read_workflow(
    app: WorkflowControls, data: Any, *, queues: Collection[str] | None = None
) -> WorkflowPlan:
    """A workflow document as steps of `app`'s jobs; `queues`, if given, are the ones a step
    may name. Raises WorkflowDocumentError with every error found."""
    doc = _shaped(WorkflowDocument, data, "workflow")
    reader = _StepReader(app, queues)
    flow = reader.part(doc.flow, ("flow",), after_something=False)
    reader.raise_errors("workflow")
    assert flow is not None
    return WorkflowPlan(flow, doc.name)


def read_batch(
    app: WorkflowControls, data: Any, *, queues: Collection[str] | None = None
) -> BatchPlan:
    """A batch document as steps of `app`'s jobs; see `read_workflow`."""
    doc = _shaped(BatchDocument, data, "batch")
    reader = _StepReader(app, queues)
    members = [reader.step(m, ("jobs", i), after_something=False) for i, m in enumerate(doc.jobs)]
    callbacks = {}
    for key in CALLBACKS:
        given: StepDocument | None = getattr(doc, key)
        if given is not None:
            callbacks[key] = reader.step(given, (key,), after_something=True)
    reader.raise_errors("batch")
    return BatchPlan(
        [m for m in members if m is not None],
        {key: step for key, step in callbacks.items() if step is not None},
        doc.name,
    )


def read_document(
    app: WorkflowControls, data: Any, *, queues: Collection[str] | None = None
) -> Plan:
    """A workflow ({"flow": ...}) or a batch ({"jobs": [...]}), told apart by its keys."""
    if isinstance(data, dict) and "jobs" in data and "flow" not in data:
        return read_batch(app, data, queues=queues)
    if isinstance(data, dict) and "flow" in data:
        return read_workflow(app, data, queues=queues)
    message = 'expected a workflow {"flow": ...} or a batch {"jobs": [...]}'
    raise WorkflowDocumentError("workflow", [{"loc": (), "msg": message, "type": "document"}])


async def start_async(app: WorkflowControls, plan: Plan) -> WorkflowHandle:
    """Store and start what a document described, in one transaction."""
    if isinstance(plan, WorkflowPlan):
        return await app.start_async(plan.flow, name=plan.name)
    return await app.batch_async(plan.members, name=plan.name, **plan.callbacks)


def start(app: WorkflowControls, plan: Plan) -> WorkflowHandle:
    """`start_async` for sync callers."""
    return app.runtime.call(start_async(app, plan))


def _shaped(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data, strict=True)
    except pydantic.ValidationError as exc:
        errors = [
            {"loc": _without_tags(tuple(e["loc"])), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise WorkflowDocumentError(what, errors) from None


def _without_tags(loc: Loc) -> Loc:
    """Pydantic names the chosen kind of a part after the part's place in the document
    (`flow.chain.chain[0]`); a reader wants only the place."""
    kept: list[str | int] = []
    index = 0
    while index < len(loc):
        part = loc[index]
        kept.append(part)
        at_part = (index == 0 and part == "flow") or (
            isinstance(part, int) and index > 0 and loc[index - 1] in ("chain", "group")
        )
        index += 2 if at_part and index + 1 < len(loc) and loc[index + 1] in PART_KEYS else 1
    return tuple(kept)


class _StepReader:
    """Turns shaped documents into steps of the app's jobs, collecting every error."""

    def __init__(self, app: WorkflowControls, queues: Collection[str] | None) -> None:
        self.app = app
        self.queues = queues
        self.errors: list[dict[str, Any]] = []

    def part(
        self, doc: StepDocument | ChainDocument | GroupDocument, loc: Loc, *, after_something: bool
    ) -> Part | None:
        """The part a document describes, or None if an error was found in it."""
        if isinstance(doc, StepDocument):
            return self.step(doc, loc, after_something=after_something)
        if isinstance(doc, ChainDocument):
            links = [
                self.part(inner, (*loc, "chain", i), after_something=after_something or i > 0)
                for i, inner in enumerate(doc.chain)
            ]
            return None if (found := _all(links)) is None else chain(*found)
        members = [
            self.part(inner, (*loc, "group", i), after_something=after_something)
            for i, inner in enumerate(doc.group)
        ]
        return None if (found := _all(members)) is None else group(*found, tolerate=doc.tolerate)

    def step(self, doc: StepDocument, loc: Loc, *, after_something: bool) -> Step[Any] | None:
        if doc.results_into is not None and not after_something:
            self._error(
                (*loc, "results_into"),
                "nothing comes before this step to give it results",
                "results_into",
            )
        if self.queues is not None and doc.queue is not None and doc.queue not in self.queues:
            self._error(
                (*loc, "queue"),
                f"unknown queue {doc.queue!r}; use one of {', '.join(sorted(self.queues))}",
                "enum",
            )
        try:
            return self.app.step(
                doc.job,
                doc.args,
                queue=doc.queue,
                priority=doc.priority,
                run_if=doc.run_if,
                tolerate=doc.tolerate,
                results_into=doc.results_into,
            )
        except UnknownJobError as exc:
            self._error((*loc, "job"), str(exc), "unknown_job")
        except ValidationError as exc:
            for error in exc.errors:
                self._error((*loc, "args", *error["loc"]), error["msg"], error["type"])
        except ConfigurationError as exc:
            self._error((*loc, "results_into"), str(exc), "results_into")
        return None

    def _error(self, loc: Loc, message: str, kind: str) -> None:
        self.errors.append({"loc": loc, "msg": message, "type": kind})

    def raise_errors(self, what: str) -> None:
        if self.errors:
            raise WorkflowDocumentError(what, self.errors)


def _all(parts: list[Part | None]) -> list[Part] | None:
    found = [part for part in parts if part is not None]
    return found if len(found) == len(parts) else None
