"""The shop's jobs."""

from __future__ import annotations

from underway import App, Backoff, JobContext

app = App("sqlite:///shop.db")

SENT: list[str] = []


@app.job(retries=2, backoff=Backoff(base=30, factor=1, jitter=0))
def send_receipt(order: int, email: str) -> str:
    """Mail a receipt; the mail server refuses now and then."""
    if email.endswith("@flaky.example") and len(SENT) < 1:
        SENT.append("refused")
        raise ConnectionError("mail server busy")
    SENT.append(email)
    return f"receipt {order} to {email}"


@app.job
def place_order(order: int, email: str) -> int:
    """Take an order: the receipt goes out as a job of its own."""
    send_receipt.enqueue(order, email)
    return order


@app.job(cron="0 3 * * *")
def nightly_report() -> str:
    return "report"


@app.job
def import_catalog(ctx: JobContext, rows: int) -> int:
    for done in range(1, rows + 1):
        if ctx.cancelled:
            return done - 1
        ctx.progress(100 * done / rows)
    ctx.log(f"{rows} products")
    return rows
