"""`underway.webhooks.verify`: good signatures pass; tampered, stale or missing ones raise."""

from __future__ import annotations

import base64
import time

import pytest

from underway.errors import WebhookSignatureError
from underway.webhooks import signed_headers, verify

SECRET = "a-test-secret"
BODY = b'{"id":"1","state":"completed"}'


def test_a_good_signature_is_accepted() -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, int(time.time()))
    verify(SECRET, headers, BODY)
    verify(SECRET, {k.title(): v for k, v in headers.items()}, BODY.decode())


def test_a_standard_webhooks_whsec_secret_is_its_base64_key() -> None:
    secret = "whsec_" + base64.b64encode(b"raw key bytes").decode()
    headers = signed_headers(secret, "msg_1", BODY, int(time.time()))
    verify(secret, headers, BODY)
    verify("raw key bytes", headers, BODY)  # the same key, given as text
    with pytest.raises(WebhookSignatureError):
        verify(secret.removeprefix("whsec_"), headers, BODY)


@pytest.mark.parametrize(
    ("secret", "body", "webhook_id"),
    [("wrong", BODY, "msg_1"), (SECRET, BODY + b" ", "msg_1"), (SECRET, BODY, "msg_2")],
)
def test_a_tampered_delivery_is_refused(secret: str, body: bytes, webhook_id: str) -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, int(time.time()))
    headers["webhook-id"] = webhook_id
    with pytest.raises(WebhookSignatureError, match="no webhook-signature matches"):
        verify(secret, headers, body)


def test_a_stale_delivery_is_refused() -> None:
    headers = signed_headers(SECRET, "msg_1", BODY, int(time.time()) - 600)
    with pytest.raises(WebhookSignatureError, match="stale"):
        verify(SECRET, headers, BODY)
    verify(SECRET, headers, BODY, tolerance=900)


def test_missing_headers_are_named() -> None:
    with pytest.raises(WebhookSignatureError, match="webhook-signature"):
        verify(SECRET, {"webhook-id": "1", "webhook-timestamp": "1"}, BODY)
