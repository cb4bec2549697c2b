"""Conformance: a job's trace context (a tracing integration's) is stored with it, however it
is stored, and answered by every kind of claim with its queue and due time."""

from __future__ import annotations

import uuid

from underway.backends.base import Backend
from underway.workflow_models import NewWorkflow

from .dependency_support import step
from .support import WORKER, new_job

CONTEXT = '{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'


async def test_a_plain_claim_answers_the_trace_context_queue_and_due_time(
    backend: Backend,
) -> None:
    stored = (await backend.enqueue(new_job(trace_context=CONTEXT, queue="mail"))).job
    [claimed] = await backend.claim(WORKER, ["mail"], 1)
    assert claimed.trace_context == CONTEXT
    assert claimed.queue == "mail"
    assert claimed.due_at is not None
    assert abs(claimed.due_at - stored.run_at.timestamp()) < 0.01


async def test_a_limited_claim_answers_the_trace_context(backend: Backend) -> None:
    await backend.enqueue(new_job(trace_context=CONTEXT, lane="k", lane_limit=1))
    [claimed] = await backend.claim(WORKER, ["default", "other"], 5)
    assert claimed.trace_context == CONTEXT
    assert claimed.queue == "default"


async def test_jobs_stored_together_keep_their_own_trace_contexts(backend: Backend) -> None:
    await backend.enqueue_many([new_job(trace_context="a"), new_job(), new_job(trace_context="b")])
    claimed = await backend.claim(WORKER, ["default"], 5)
    assert sorted(str(c.trace_context) for c in claimed) == ["None", "a", "b"]


async def test_a_workflows_members_keep_their_trace_contexts(backend: Backend) -> None:
    flow = NewWorkflow(str(uuid.uuid4()), "nightly", "workflow")
    first = step(workflow_id=flow.id, trace_context=CONTEXT)
    await backend.start_workflow(flow, [first, step(first, workflow_id=flow.id)])
    [claimed] = await backend.claim(WORKER, [first.queue], 5)
    assert claimed.id == first.id
    assert claimed.trace_context == CONTEXT
