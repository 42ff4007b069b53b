"""The second line's answer: accepted only with a fresh, valid signature over the exact
body; no bearer token needed (nor enough); off when no secret is configured."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from callcenter.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.unit.web.support import SECOND_LINE_SECRET, Api, Clock, start_api

NOTE = "回答: 再起動で解決"


def body_for(iid: int, note: str = NOTE, **extra: Any) -> str:
    """The signed body names its incident (the signature does not cover the URL)."""
    return json.dumps({"incident_id": iid, "note": note, **extra}, ensure_ascii=False)


async def escalated(api: Api) -> int:
    iid: int = (await api.create(agent_id="1001"))["id"]
    assert (await api.act(iid, "escalate", who="a1", to="vendor-x")).status == 200
    api.clock.tick()
    return iid


async def answer(
    api: Api, iid: int, body: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    body = body_for(iid) if body is None else body
    h = api.second_line_headers(body) if headers is None else headers
    reply = await api.call(
        "POST", f"/second-line/incidents/{iid}/answer", who=None, data=body.encode(), headers=h
    )
    return reply.status, reply.body


async def test_a_signed_answer_is_recorded_by_second_line(api: Api) -> None:
    iid = await escalated(api)
    status, _ = await answer(api, iid)
    assert status == 200
    history = (await api.call("GET", f"/incidents/{iid}")).body["history"]
    assert history[-1]["action"] == "escalation_answered"
    assert history[-1]["actor"] == "second-line"
    assert history[-1]["note"] == "回答: 再起動で解決"
    # In the audit trail as the second line's change; a refused one is nobody's.
    await answer(api, iid, body="{}")
    trail = (await api.call("GET", "/audit", who="aud")).body["entries"]
    mine = [(e["actor"], e["role"], e["action"], e["target"], e["result"]) for e in trail
            if e["action"].startswith("second-line")]  # fmt: skip
    assert mine == [("second-line", "signed", "second-line.second_line_answer", f"id={iid}", 200)]


async def test_an_answer_without_a_note(api: Api) -> None:
    iid = await escalated(api)
    status, _ = await answer(api, iid, body=json.dumps({"incident_id": iid}))
    assert status == 200


async def test_a_signed_answer_cannot_be_moved_or_replayed(api: Api) -> None:
    """Someone who saw one signed answer cannot post it to another escalated incident,
    nor post it again."""
    first = await escalated(api)
    other = await escalated(api)
    body = body_for(first)
    headers = api.second_line_headers(body)
    status, reply = await answer(api, other, body=body, headers=headers)
    assert (status, reply["error"]["field"]) == (422, "incident_id")
    status, _ = await answer(api, first, body=body, headers=headers)
    assert status == 200
    status, reply = await answer(api, first, body=body, headers=headers)
    assert (status, reply["error"]["code"]) == (409, "replayed")
    statuses = [
        (await api.call("GET", f"/incidents/{i}")).body["incident"]["status"]
        for i in (first, other)
    ]
    assert statuses == ["escalation_answered", "escalated"]


def _append_v1_00(sig: str) -> str:
    return sig + ",v1=00"


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        (_append_v1_00, str),  # issue 11: the raw header was the key
        (lambda sig: "v1=00," + sig, str),
        (lambda sig: f" {sig} ", str),
        (lambda sig: f"{sig},{sig}", str),
        (lambda sig: f"v0=abc, {sig}, v2=def", str),
        (lambda sig: sig, lambda ts: f"0{ts}"),  # the same instant, written otherwise
        (lambda sig: sig, lambda ts: f" {ts} "),
    ],
)
async def test_a_replay_is_refused_however_its_headers_are_varied(
    api: Api, signature: Callable[[str], str], timestamp: Callable[[str], str]
) -> None:
    """The replay check keys on the signature that verified (HMAC of timestamp and body),
    so every header that still verifies the same signed answer is the same answer."""
    iid = await escalated(api)
    body = body_for(iid)
    headers = api.second_line_headers(body)
    status, _ = await answer(api, iid, body=body, headers=headers)
    assert status == 200
    varied = {
        **headers,
        SIGNATURE_HEADER: signature(headers[SIGNATURE_HEADER]),
        TIMESTAMP_HEADER: timestamp(headers[TIMESTAMP_HEADER]),
    }
    api.clock.tick()
    status, reply = await answer(api, iid, body=body, headers=varied)
    assert status == 409, reply
    assert reply == {
        "error": {"code": "replayed", "message": "this signed request was already used"}
    }
    history = (await api.call("GET", f"/incidents/{iid}")).body["history"]
    assert [h["action"] for h in history].count("escalation_answered") == 1


async def test_a_varied_header_first_then_the_plain_one_is_a_replay(api: Api) -> None:
    iid = await escalated(api)
    body = body_for(iid)
    headers = api.second_line_headers(body)
    varied = {**headers, SIGNATURE_HEADER: _append_v1_00(headers[SIGNATURE_HEADER])}
    assert (await answer(api, iid, body=body, headers=varied))[0] == 200
    # Refused as a replay (before the store could refuse it as a second answer).
    status, reply = await answer(api, iid, body=body, headers=headers)
    assert (status, reply["error"]["code"]) == (409, "replayed")


Tamper = Callable[[Api, dict[str, str], str], dict[str, str]]


def _drop(name: str) -> Tamper:
    return lambda _api, h, _body: {k: v for k, v in h.items() if k != name}


def _set(name: str, value: str) -> Tamper:
    return lambda _api, h, _body: {**h, name: value}


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_drop(SIGNATURE_HEADER), "missing X-Callcenter-Signature"),
        (_drop(TIMESTAMP_HEADER), "missing X-Callcenter-Timestamp"),
        (_set(SIGNATURE_HEADER, "v1=" + "0" * 64), "signature does not match"),
        (_set(SIGNATURE_HEADER, "sha256=abc"), "X-Callcenter-Signature has no v1="),
        (_set(TIMESTAMP_HEADER, "soon"), "X-Callcenter-Timestamp is not unix seconds"),
        (
            lambda api, _h, body: api.second_line_headers(body, secret="not-the-secret"),
            "signature does not match",
        ),
        (lambda api, _h, b: api.second_line_headers(b, age=301), "X-Callcenter-Timestamp is"),
        (lambda api, _h, b: api.second_line_headers(b, age=-301), "X-Callcenter-Timestamp is"),
    ],
)
async def test_a_bad_signature_is_401_and_changes_nothing(
    api: Api, tamper: Tamper, reason: str
) -> None:
    iid = await escalated(api)
    signed = body_for(iid)
    headers = tamper(api, api.second_line_headers(signed), signed)
    status, body = await answer(api, iid, body=signed, headers=headers)
    assert status == 401
    error = body["error"]
    assert error["code"] == "unauthorized"
    assert error["message"].startswith(f"signature refused: {reason}")
    assert SECOND_LINE_SECRET not in json.dumps(body)
    incident = (await api.call("GET", f"/incidents/{iid}")).body["incident"]
    assert incident["status"] == "escalated"


async def test_a_tampered_body_is_refused(api: Api) -> None:
    iid = await escalated(api)
    signed = body_for(iid)
    headers = api.second_line_headers(signed)
    status, _ = await answer(api, iid, body=signed.replace("再起動", "交換"), headers=headers)
    assert status == 401
    # Re-serialised JSON (other spacing) is another body, so it is refused too.
    status, _ = await answer(api, iid, body=json.dumps(json.loads(signed)), headers=headers)
    assert status == 401


async def test_just_inside_the_tolerance_is_accepted(api: Api) -> None:
    iid = await escalated(api)
    signed = body_for(iid)
    status, _ = await answer(
        api, iid, body=signed, headers=api.second_line_headers(signed, age=299)
    )
    assert status == 200


async def test_a_bearer_token_is_not_a_signature(api: Api) -> None:
    iid = await escalated(api)
    reply = await api.call(
        "POST", f"/second-line/incidents/{iid}/answer", who="admin", data=body_for(iid).encode()
    )
    assert reply.status == 401


async def test_unknown_not_escalated_and_bad_bodies(api: Api) -> None:
    status, body = await answer(api, 999)
    assert (status, body) == (
        404,
        {"error": {"code": "not_found", "message": "incident 999 does not exist"}},
    )
    iid = (await api.create())["id"]
    status, body = await answer(api, iid)
    assert status == 409
    iid = await escalated(api)
    status, body = await answer(api, iid, body=body_for(iid, "x", status="resolved"))
    assert (status, body["error"]["field"]) == (422, "status")
    status, body = await answer(api, iid, body='{"note": "no incident named"}')
    assert (status, body["error"]["field"]) == (422, "incident_id")
    status, _ = await answer(api, iid, body="[]")
    assert status == 400


async def test_disabled_without_a_secret(engine: Engine, clock: Clock) -> None:
    api = await start_api(engine, clock, second_line_secret="")
    try:
        iid = await escalated(api)
        status, body = await answer(api, iid)
        assert (status, body["error"]["code"]) == (404, "not_found")
    finally:
        await api.client.close()
