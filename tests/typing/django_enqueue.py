"""What the type checker must say about enqueues that join a Django transaction; checked by
mypy --strict in `make lint` (see job_types.py for how)."""

from __future__ import annotations

from typing import assert_type

from underway import JobHandle
from underway.contrib.django import Enqueued, InTransaction, app, in_transaction


@app.job
def send_receipt(order_id: int, note: str = "") -> str:
    return f"receipt {order_id} {note}"


def typed_in_transaction() -> None:
    job = in_transaction(send_receipt)
    also: InTransaction[[int, str], str] = job
    wrong: InTransaction[[int, str], int] = job  # type: ignore[assignment]
    del also, wrong
    enqueued = job.enqueue(order_id=1, note="thanks")
    assert_type(enqueued, Enqueued[str])
    assert_type(enqueued.handle, JobHandle[str])
    in_transaction(send_receipt.options(queue="mail"), using="orders").enqueue(7)
    job.enqueue(order_id="seven")  # type: ignore[arg-type]
    job.enqueue(order=1)  # type: ignore[call-arg]
    in_transaction(print)  # type: ignore[arg-type]


async def typed_in_transaction_async() -> None:
    enqueued = await in_transaction(send_receipt).enqueue_async(order_id=1)
    assert_type(enqueued, Enqueued[str])
    await in_transaction(send_receipt).enqueue_async(order_id=None)  # type: ignore[arg-type]
