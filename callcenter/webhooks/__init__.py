"""Outbound webhooks: incidents mirrored to the second-line vendor's ticket system.

Signed (HMAC-SHA256), persisted in a transactional outbox, retried with backoff, sent
in order per URL by a background task that never blocks call handling.
See docs/webhooks.md for the receiving side.
"""

from __future__ import annotations

from callcenter.store.models import WebhookOutbox
from callcenter.webhooks.outbox import Delivery, enqueue
from callcenter.webhooks.sender import WebhookSender
from callcenter.webhooks.settings import WebhookSettings
from callcenter.webhooks.signing import SignatureError, sign, signed_headers, verify

__all__ = [
    "Delivery",
    "SignatureError",
    "WebhookOutbox",
    "WebhookSender",
    "WebhookSettings",
    "enqueue",
    "sign",
    "signed_headers",
    "verify",
]
