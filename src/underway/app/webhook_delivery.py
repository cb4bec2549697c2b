"""Signed completion webhooks: a delivery job stored with each job that has a webhook, waiting
for it with run_if="ended", that POSTs the job's outcome to the URL, signed, until a 2xx."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

from ..context import JobContext
from ..errors import ConfigurationError, JobNotFound, Retry, WebhookRejected
from ..job_options import Backoff
from ..jobs import Dependencies
from ..models import Job, NewJob
from ..webhooks import checked_url, signed_headers
from .registry import JobRegistry

DELIVERY_JOB = "underway.webhook"
DELIVERY_QUEUE = "underway.webhooks"
DELIVERY_RETRIES = 10
#: Statuses that say "later", not "never".
RETRIED_STATUSES = frozenset({408, 429})
TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 3600.0


class WebhookControls(JobRegistry):
    """The part of an App that configures webhooks and stores a delivery job with each job
    that has one (`@app.job(webhook=...)`, or `app.webhooks(url, secret)` for every job)."""

    webhook_url: str | None = None
    webhook_secret: str | None = None

    async def get_async(self, job_id: str) -> Job:
        raise NotImplementedError  # JobReads's, in the App

    def webhooks(self, url: str | None = None, *, secret: str) -> None:
        """Sign deliveries with `secret`; with `url`, every job without its own webhook
        delivers there too."""
        if not isinstance(secret, str) or not secret:
            raise ConfigurationError(
                "a webhook needs a secret to sign its deliveries: "
                "App(webhook_secret=...) or app.webhooks(url, secret=...)"
            )
        self.webhook_url = None if url is None else checked_url(url, "app.webhooks")
        self.webhook_secret = secret
        self._register_delivery()

    def _register(self, fn: Any, options: dict[str, Any]) -> Any:
        if (url := options.get("webhook")) is not None:
            checked_url(url, f"job {options.get('name') or getattr(fn, '__name__', fn)!r}")
            self._register_delivery()
        return super()._register(fn, options)

    def deliveries_for(self, new: NewJob) -> list[NewJob]:
        """The delivery job to store with `new` (none if it has no webhook): it waits for
        `new` to end, whatever the outcome."""
        definition = self.registry.get(new.name)
        if definition is None or new.name == DELIVERY_JOB:
            return []
        url = definition.options.webhook or self.webhook_url
        if url is None:
            return []
        if self.webhook_secret is None:
            raise ConfigurationError(
                f"job {new.name!r} has a webhook but the app has no secret to sign it: "
                "App(webhook_secret=...) or app.webhooks(secret=...)"
            )
        delivery = self.registry[DELIVERY_JOB]
        after = Dependencies((new.id,), rule="ended")
        return [delivery.new_job({"url": url, "job_id": new.id}, dependencies=after)]

    def _register_delivery(self) -> None:
        if DELIVERY_JOB in self.registry:
            return

        async def deliver(ctx: JobContext, url: str, job_id: str) -> dict[str, Any]:
            return await self._deliver(ctx, url, job_id)

        self.job(
            name=DELIVERY_JOB,
            queue=DELIVERY_QUEUE,
            retries=DELIVERY_RETRIES,
            backoff=Backoff(base=5.0, maximum=3600.0),
            discard_on=[WebhookRejected, ConfigurationError, JobNotFound],
        )(deliver)

    async def _deliver(self, ctx: JobContext, url: str, job_id: str) -> dict[str, Any]:
        """POST the ended job's outcome to `url`, signed; a 2xx delivers it."""
        httpx = _httpx()
        if self.webhook_secret is None:
            raise ConfigurationError("the app has no webhook secret to sign this delivery")
        body = json.dumps(payload(await self.get_async(job_id)), default=str).encode()
        # The receiver judges the timestamp by its own wall clock, not by the app's clock.
        headers = signed_headers(self.webhook_secret, ctx.job_id, body, int(time.time()))
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise Retry(reason=f"{url}: {type(exc).__name__}: {exc}") from exc
        return answered(url, response.status_code, response.headers, response.text)


def payload(job: Job) -> dict[str, Any]:
    """The JSON body of a delivery: what the job is and how it ended."""
    body: dict[str, Any] = {
        "type": f"job.{job.state.value}",
        "id": job.id,
        "name": job.name,
        "queue": job.queue,
        "state": job.state.value,
        "attempt": job.attempt,
        "max_attempts": job.max_attempts,
        "created_at": job.created_at.isoformat(),
        "finished_at": None if job.finished_at is None else job.finished_at.isoformat(),
    }
    if job.error is not None:
        body["error"] = {"type": job.error.type, "message": job.error.message}
    else:
        body["result"] = job.result
    return body


def answered(url: str, status: int, headers: Any, text: str) -> dict[str, Any]:
    """What a receiver's answer means: delivered (2xx), later (5xx, 408, 429: Retry, after
    its Retry-After if it gave one), or never (any other: WebhookRejected)."""
    if 200 <= status < 300:
        return {"url": url, "status": status}
    if status >= 500 or status in RETRIED_STATUSES:
        raise Retry(after=retry_after(headers.get("retry-after")), reason=f"{url}: {status}")
    raise WebhookRejected(url, status, text)


def retry_after(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds, capped; None if absent."""
    if not value:
        return None
    try:
        wait = float(value)
    except ValueError:
        try:
            wait = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(wait, 0.0), MAX_RETRY_AFTER_S)


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise ConfigurationError(
            "webhook deliveries need httpx: pip install 'underway[webhooks]'"
        ) from None
    return httpx
