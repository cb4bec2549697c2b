"""Screenshots of every dashboard page for the docs: `python -m tests.dashboard.screenshots DIR`.

Runs a demo app with a worker on a temporary SQLite file and a real server, signs in with a
manage token in Chromium and saves desktop and phone-sized PNGs.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect, sync_playwright

from underway import App, JobContext, chain, group
from underway.api import StreamSettings, create_api

from ..api.support import LiveServer
from .support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MANAGE_TOKEN,
    TOKENS,
    chromium_missing_message,
    wait_finished,
)

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def demo_app(database_url: str) -> App:
    app = App(database_url)

    @app.job
    async def import_csv(ctx: JobContext, file: str, rows: int = 20_000) -> int:
        """Import a CSV file in batches."""
        for batch in range(400):
            ctx.progress(batch / 4, f"imported {batch * rows // 400:,} of {rows:,} rows")
            if batch % 5 == 0:
                ctx.log(f"batch {batch // 5 + 1}: {rows // 80} rows committed")
            await asyncio.sleep(0.25)
        return rows

    @app.job
    def send_invoice(customer: str, amount_cents: int) -> dict[str, Any]:
        """Send one invoice."""
        return {"customer": customer, "sent": True, "amount_cents": amount_cents}

    @app.job(queue="media")
    def resize_images(album: int, sizes: list[int]) -> int:
        return album * len(sizes)

    @app.job(retries=2, backoff=lambda attempt: 0.05)
    def sync_crm(account: str) -> None:
        """Push account changes to the CRM."""
        raise ConnectionError(f"CRM API at crm.internal:443 refused the connection for {account}")

    @app.job
    def nightly_cleanup(days: int = 30) -> int:
        return days

    return app


def seed(app: App, database: Path) -> dict[str, str]:
    """An hour of finished jobs, a few failures, running and scheduled ones."""
    rng = random.Random(7)
    done = [
        app.enqueue(
            "send_invoice", {"customer": f"cust-{i:04d}", "amount_cents": rng.randint(900, 90_000)}
        ).id
        for i in range(140)
    ]
    done += [
        app.enqueue("resize_images", {"album": i, "sizes": [320, 640, 1280]}).id for i in range(60)
    ]
    failed = [app.enqueue("sync_crm", {"account": f"acme-{i}"}).id for i in range(4)]
    wait_finished(app, *done, *failed, timeout=60)
    spread_over_last_hour(database, rng)
    running = app.enqueue("import_csv", {"file": "s3://exports/2026-11/customers.csv"}).id
    app.enqueue("import_csv", {"file": "s3://exports/2026-11/orders.csv", "rows": 80_000})
    for i in range(3):
        app.enqueue(
            "send_invoice",
            {"customer": f"cust-9{i:03d}", "amount_cents": 12_900},
            delay=3600 * (i + 1),
        )
    app.add_recurring("nightly cleanup", "0 3 * * *", "nightly_cleanup", {"days": 30})
    app.add_recurring(
        "monthly invoices", "0 0 1 * *", "send_invoice", {"customer": "all", "amount_cents": 0}
    )
    crm = app.add_recurring(
        "crm sync", "*/15 * * * 1-5", "sync_crm", {"account": "acme-1"}, timezone="Europe/Berlin"
    )
    app.toggle_recurring(crm)
    hourly = app.add_recurring(
        "hourly thumbnails", "@hourly", "resize_images", {"album": 1, "sizes": [320]}
    )
    wait_finished(app, app.trigger_recurring(hourly).id)
    # A queue no worker serves, for the overview's alert.
    app.enqueue("nightly_cleanup", {"days": 90}, queue="reports")
    app.roll_up_history()
    return {"running": running, "failed": failed[0], "workflow": seed_workflows(app)}


def seed_workflows(app: App) -> str:
    """A finished batch with a callback, and an import pipeline under way; its id."""
    invoices = [
        app.step("send_invoice", {"customer": f"cust-7{i:03d}", "amount_cents": 4_900})
        for i in range(8)
    ]
    app.batch(
        invoices, on_complete=app.step("nightly_cleanup", {"days": 1}), name="november invoices"
    ).wait(timeout=30)
    pipeline = chain(
        app.step("import_csv", {"file": "s3://exports/2026-11/accounts.csv", "rows": 4_000}),
        group(*[app.step("resize_images", {"album": i, "sizes": [320]}) for i in range(3)]),
        app.step("nightly_cleanup", {"days": 7}),
    )
    return app.start(pipeline, name="accounts import").id


def spread_over_last_hour(database: Path, rng: random.Random) -> None:
    """Demo data only: move finished jobs back in time so the throughput chart shows an hour."""
    now = time.time()
    with sqlite3.connect(database) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM underway_jobs")]
        for job_id in ids:
            finished = now - 3540 * rng.random() ** 1.3
            conn.execute(
                "UPDATE underway_jobs SET created_at = ?, started_at = ?, finished_at = ? "
                "WHERE id = ?",
                (finished - 2.5, finished - 0.4, finished, job_id),
            )


def shoot(page: Page, out: Path, name: str) -> None:
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(f"wrote {out / name}.png")


def main(out: Path) -> None:
    missing = chromium_missing_message()
    if missing is not None:
        raise SystemExit(missing)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "demo.db"
        app = demo_app(f"sqlite:///{database}")
        app.start_worker(
            concurrency=4, poll_interval=0.05, flush_interval=0.1, queues=["default", "media"]
        )
        try:
            ids = seed(app, database)
            streams = StreamSettings(poll_s=0.25, max_s=60.0)
            server = LiveServer(create_api(app, tokens=TOKENS, streams=streams)).start()
            try:
                take_all(server.url, out, ids)
            finally:
                server.stop()
        finally:
            app.close()


def take_all(url: str, out: Path, ids: dict[str, str]) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
            context = browser.new_context(base_url=url, viewport=size, device_scale_factor=1)
            page = context.new_page()
            page.goto("/dashboard/login")
            if not suffix:
                shoot(page, out, "login")
            page.get_by_label("API token").fill(MANAGE_TOKEN)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator(".live-dot.on")).to_be_visible(timeout=10_000)
            shoot(page, out, f"overview{suffix}")
            page.goto(f"/dashboard/jobs/{ids['running']}")
            page.wait_for_function(
                "() => document.querySelectorAll('#logs li').length > 3", timeout=20_000
            )
            shoot(page, out, f"job-detail{suffix}")
            page.goto("/dashboard/jobs")
            shoot(page, out, f"jobs{suffix}")
            if not suffix:
                page.goto(f"/dashboard/jobs/{ids['failed']}")
                shoot(page, out, "job-failed")
                page.goto("/dashboard/bulk?state=failed&action=retry")
                expect(page.locator("[data-bulk-matched]")).to_be_visible()
                shoot(page, out, "bulk-confirm")
                page.goto("/dashboard/recurring")
                shoot(page, out, "recurring")
                page.goto("/dashboard/workflows")
                shoot(page, out, "workflows")
                page.goto(f"/dashboard/workflows/{ids['workflow']}")
                shoot(page, out, "workflow")
                for path, name in (
                    ("/dashboard/queues", "queues"),
                    ("/dashboard/workers", "workers"),
                    ("/dashboard/history?window=1h", "history"),
                    ("/dashboard/history/send_invoice?window=1h", "job-name"),
                ):
                    page.goto(path)
                    shoot(page, out, name)
            context.close()
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
