"""The reader of workflow and batch documents: steps of registered jobs, or every error with
the place in the document where it is."""

from __future__ import annotations

from typing import Any

import pytest

from underway import App, Chain, Group, Step
from underway.app.workflow_json import (
    BatchPlan,
    WorkflowDocumentError,
    WorkflowPlan,
    location,
    read_batch,
    read_document,
    read_workflow,
)


@pytest.fixture(scope="module")
def app() -> App:
    app = App("memory://")

    @app.job
    def add(a: int, b: int = 2) -> int:
        return a + b

    @app.job
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    return app


def errors_of(app: App, document: Any) -> list[tuple[str, str]]:
    with pytest.raises(WorkflowDocumentError) as raised:
        read_document(app, document, queues=["default"])
    return [(location(e["loc"]), e["type"]) for e in raised.value.errors]


def test_a_workflow_reads_as_its_chains_groups_and_steps(app: App) -> None:
    document = {
        "name": "sums",
        "flow": {
            "chain": [
                {"job": "add", "args": {"a": 1}, "priority": 5, "queue": "default"},
                {"group": [{"job": "add", "args": {"b": 3}, "results_into": "a"}], "tolerate": 1},
                {"job": "total", "results_into": "numbers", "run_if": "ended"},
            ]
        },
    }

    plan = read_workflow(app, document)

    assert isinstance(plan, WorkflowPlan)
    assert plan.name == "sums"
    assert isinstance(plan.flow, Chain)
    first, middle, last = plan.flow.parts
    assert isinstance(first, Step)
    assert first.args == {"a": 1, "b": 2}
    assert (first.options.priority, first.options.queue) == (5, "default")
    assert isinstance(middle, Group)
    assert middle.tolerate == 1
    assert isinstance(last, Step)
    assert last.options.run_if == "ended"
    assert last.options.results_into == "numbers"


def test_a_batch_reads_as_members_and_callbacks(app: App) -> None:
    document = {
        "jobs": [{"job": "add", "args": {"a": 1}}],
        "on_failure": {"job": "add", "args": {"a": 0}},
    }

    plan = read_document(app, document)

    assert isinstance(plan, BatchPlan)
    assert [m.args for m in plan.members] == [{"a": 1, "b": 2}]
    assert list(plan.callbacks) == ["on_failure"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"flow": {"chain": [{"job": "add", "args": {"a": 1}}, {"group": [{"job": "add"}]}]}},
            [("flow.chain[1].group[0].args.a", "missing")],
        ),
        # A step's unknown key named like a part's is still the step's unknown key.
        (
            {"flow": {"job": "add", "args": {"a": 1}, "chain": []}},
            [("flow.chain", "extra_forbidden")],
        ),
        (
            {"flow": {"chain": [{"chain": [{"group": [7]}]}]}},
            [("flow.chain[0].chain[0].group[0]", "workflow_part")],
        ),
        (
            {"flow": {"job": "add", "args": {"a": 1}, "queue": "elsewhere"}},
            [("flow.queue", "enum")],
        ),
        ({"flow": 1}, [("flow", "workflow_part")]),
        ([], [("(document)", "document")]),
        (
            {"jobs": [{"job": "add", "args": {"a": 1}}], "flow": {"job": "add"}},
            [("jobs", "extra_forbidden")],
        ),
    ],
)
def test_errors_name_their_place_in_the_document(
    app: App, document: Any, expected: list[tuple[str, str]]
) -> None:
    assert errors_of(app, document) == expected


def test_every_error_is_reported_at_once(app: App) -> None:
    document = {"jobs": [{"job": "nope"}, {"job": "add", "args": {"a": "x"}}]}

    with pytest.raises(WorkflowDocumentError) as raised:
        read_batch(app, document)

    assert str(raised.value) == (
        "invalid batch document: jobs[0].job: no job named 'nope' is registered; "
        "jobs[1].args.a: Input should be a valid integer, unable to parse string as an integer"
    )


def test_locations_read_as_written() -> None:
    assert location(("flow", "chain", 1, "group", 0, "args", "tenant")) == (
        "flow.chain[1].group[0].args.tenant"
    )
    assert location(("jobs", 2)) == "jobs[2]"
    assert location(()) == "(document)"
