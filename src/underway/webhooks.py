"""Standard Webhooks signatures: sign a delivery's body, and `verify` it on the receiving side.

The scheme (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` (unix
seconds) and `webhook-signature` = "v1," + base64 of HMAC-SHA256(secret, "{id}.{timestamp}.{body}").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import ConfigurationError, WebhookSignatureError

__all__ = ["checked_url", "sign", "signed_headers", "verify"]

SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of one delivery: "v1," and the base64 HMAC-SHA256."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, webhook_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one delivery of `body`."""
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes | str, tolerance: float = 300
) -> None:
    """Check a delivery on the receiving side; raises WebhookSignatureError if a header is
    missing, no signature matches, or the timestamp is more than `tolerance` s off."""
    found = {name.lower(): value for name, value in headers.items()}
    missing = [h for h in SIGNED_HEADERS if h not in found]
    if missing:
        raise WebhookSignatureError(f"the delivery has no {', '.join(missing)} header")
    try:
        timestamp = int(found["webhook-timestamp"])
    except ValueError:
        raise WebhookSignatureError("webhook-timestamp is not unix seconds") from None
    # The receiver's wall clock is what a replayed delivery is judged by.
    if abs(time.time() - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"webhook-timestamp {timestamp} is more than {tolerance:g} s from now: "
            "a stale or replayed delivery (or a clock off)"
        )
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, found["webhook-id"], timestamp, raw)
    given = found["webhook-signature"].split()  # several, space-separated, while keys rotate
    if not any(hmac.compare_digest(expected, s) for s in given):
        raise WebhookSignatureError("no webhook-signature matches this body and secret")


def checked_url(url: object, where: str) -> str:
    """A webhook URL, checked: absolute http(s) with a host; ConfigurationError otherwise."""
    if isinstance(url, str):
        try:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.hostname:
                return url
        except ValueError:
            pass
    raise ConfigurationError(
        f"{where}: a webhook URL is absolute http(s), like 'https://example.com/hooks', not {url!r}"
    )


def _key(secret: str) -> bytes:
    """The HMAC key: a "whsec_" secret is base64 (as Standard Webhooks issues them), any
    other text is used as is."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            raise ConfigurationError("a 'whsec_' webhook secret must be base64") from None
    return secret.encode()
