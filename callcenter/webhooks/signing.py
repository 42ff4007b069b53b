"""HMAC-SHA256 request signatures, for the webhooks we send and the ones we receive.

The signed text is ``f"{timestamp}.{body}"``: binding the timestamp into the MAC stops
an old, captured request from being replayed with a fresh timestamp header.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

EVENT_HEADER = "X-Callcenter-Event"
DELIVERY_HEADER = "X-Callcenter-Delivery"
TIMESTAMP_HEADER = "X-Callcenter-Timestamp"
SIGNATURE_HEADER = "X-Callcenter-Signature"
VERSION = "v1"
DEFAULT_TOLERANCE = 300.0


class SignatureError(ValueError):
    """A request's signature does not check out; the message says why (never the secret)."""


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    if not secret:
        # An empty key is a key everyone knows: refuse rather than sign or accept with it.
        raise ValueError("webhook secret is empty")
    msg = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes | str) -> str:
    """The ``X-Callcenter-Signature`` value: ``v1=<hex HMAC-SHA256 of "timestamp.body">``."""
    return f"{VERSION}={_mac(secret, timestamp, _bytes(body))}"


def signed_headers(
    secret: str, event: str, delivery_id: str, timestamp: int, body: bytes | str
) -> dict[str, str]:
    """Every header of one delivery attempt (JSON content type included)."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Frameworks differ on header case (aiohttp's mapping ignores it, a plain dict does not).
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> str:
    """Raise ``SignatureError`` unless ``body`` was signed with ``secret`` within ``tolerance``.

    ``body`` must be the raw request body, before any JSON parsing: a re-serialised body
    differs in spacing or key order and will not match. ``now`` is unix seconds.
    Several ``v1=`` values, comma-separated, are accepted (any one matching), so a sender
    can sign with an old and a new secret while the secret is being rotated.

    Returns the signature that verified (the ``v1=`` value of this timestamp and body):
    the same whatever else the headers hold (more ``v1=`` values, spaces, a timestamp
    written ``0123``), so it is what a replay check must key on, never the raw header.
    """
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    raw_sig = _header(headers, SIGNATURE_HEADER)
    if raw_ts is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if raw_sig is None:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    try:
        timestamp = int(raw_ts.strip())
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not unix seconds") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is {round(now - timestamp)} s from now "
            f"(tolerance {tolerance:g} s): stale, replayed, or a clock is wrong"
        )
    expected = _mac(secret, timestamp, _bytes(body))
    candidates = [
        part.strip()[len(VERSION) + 1 :]
        for part in raw_sig.split(",")
        if part.strip().startswith(f"{VERSION}=")
    ]
    if not candidates:
        raise SignatureError(f"{SIGNATURE_HEADER} has no {VERSION}= signature")
    # Check every candidate so the time taken does not tell which one came close.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode("ascii", "replace"), expected.encode())
    if not matched:
        raise SignatureError("signature does not match (wrong secret or altered body)")
    return f"{VERSION}={expected}"
