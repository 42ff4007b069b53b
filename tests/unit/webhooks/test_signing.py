"""Signatures: a round trip works; any change to body, time, secret or header is refused."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest

from callcenter.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    signed_headers,
    verify,
)

SECRET = "k3y-for-signing-tests"
BODY = '{"event":"incident.created","data":{"caller":"山田 太郎"}}'
TS = 1_800_000_000
Tamper = Callable[[dict[str, str], str], tuple[dict[str, str], str]]


def headers(body: str = BODY, ts: int = TS, secret: str = SECRET) -> dict[str, str]:
    return signed_headers(secret, "incident.created", "d" * 32, ts, body)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Written out independently: what a receiver in another language computes.
    want = hmac.new(SECRET.encode(), f"{TS}.{BODY}".encode(), hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == f"v1={want}"
    assert sign(SECRET, TS, BODY.encode("utf-8")) == f"v1={want}"


def test_headers_carry_event_delivery_and_timestamp() -> None:
    h = headers()
    assert h[EVENT_HEADER] == "incident.created"
    assert h[DELIVERY_HEADER] == "d" * 32
    assert h[TIMESTAMP_HEADER] == str(TS)
    assert h[SIGNATURE_HEADER].startswith("v1=")
    assert h["Content-Type"].startswith("application/json")


def test_round_trip_accepts_bytes_and_any_header_case() -> None:
    verify(SECRET, headers(), BODY.encode("utf-8"), now=TS + 10)
    lower = {k.lower(): v for k, v in headers().items()}
    verify(SECRET, lower, BODY, now=TS - 10)


def test_verify_returns_the_signature_that_verified_whatever_the_header() -> None:
    """What a replay check keys on: one value per signed request, not the raw header."""
    h = headers()
    expected = sign(SECRET, TS, BODY)
    assert verify(SECRET, h, BODY, now=TS) == expected
    for varied in (f"{expected},v1=00", f"v1=00, {expected} ", f"{expected},{expected}"):
        assert verify(SECRET, {**h, SIGNATURE_HEADER: varied}, BODY, now=TS) == expected
    assert verify(SECRET, {**h, TIMESTAMP_HEADER: f"0{TS}"}, BODY, now=TS) == expected


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda h, b: (h, b.replace("山田", "田中")), "does not match"),
        (lambda h, b: (h, b + " "), "does not match"),
        (lambda h, b: ({**h, TIMESTAMP_HEADER: str(TS + 1)}, b), "does not match"),
        (lambda h, b: ({**h, EVENT_HEADER: "x"}, b), None),  # not signed: still accepted
        (lambda h, b: ({**h, SIGNATURE_HEADER: "v1=" + "0" * 64}, b), "does not match"),
        (lambda h, b: ({**h, SIGNATURE_HEADER: "v0=abc"}, b), "no v1= signature"),
        (lambda h, b: ({**h, SIGNATURE_HEADER: "v1=ab€"}, b), "does not match"),
        (lambda h, b: ({**h, TIMESTAMP_HEADER: "soon"}, b), "not unix seconds"),
        (lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE_HEADER}, b), "missing"),
        (lambda h, b: ({k: v for k, v in h.items() if k != TIMESTAMP_HEADER}, b), "missing"),
    ],
)
def test_tampering_is_refused(tamper: Tamper, message: str | None) -> None:
    h, b = tamper(headers(), BODY)
    if message is None:
        verify(SECRET, h, b, now=TS)
        return
    with pytest.raises(SignatureError, match=message):
        verify(SECRET, h, b, now=TS)


def test_wrong_secret_is_refused_and_not_revealed() -> None:
    with pytest.raises(SignatureError) as err:
        verify("another-secret", headers(), BODY, now=TS)
    assert "another-secret" not in str(err.value)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_timestamp_outside_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, headers(), BODY, now=TS + offset)


def test_tolerance_is_inclusive_and_configurable() -> None:
    verify(SECRET, headers(), BODY, now=TS + 300)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, headers(), BODY, now=TS + 31, tolerance=30)


def test_a_captured_request_replayed_with_a_fresh_timestamp_is_refused() -> None:
    h = {**headers(), TIMESTAMP_HEADER: str(TS + 3600)}
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, h, BODY, now=TS + 3600)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    old = sign("old-secret", TS, BODY)
    new = sign(SECRET, TS, BODY)
    h = {**headers(), SIGNATURE_HEADER: f"{old}, {new}"}
    verify(SECRET, h, BODY, now=TS)
    verify("old-secret", h, BODY, now=TS)
    with pytest.raises(SignatureError):
        verify("third-secret", h, BODY, now=TS)


def test_an_empty_secret_is_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign("", TS, BODY)
    with pytest.raises(ValueError, match="empty"):
        verify("", headers(), BODY, now=TS)
