"""Bad requests: each refused with the JSON error shape, the right status, and the field
named; and the errors no handler raises (no route, wrong method, too large, a crash)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from tests.unit.web.support import Api


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "the body is not valid JSON"),
        ("{'single': 'quotes'}", "the body is not valid JSON"),
        ('{"notes": NaN}', "the body is not valid JSON"),
        (b"\xff\xfe", "the body is not valid JSON"),
        ("[1, 2]", "the body must be a JSON object, not an array"),
        ('"text"', "the body must be a JSON object, not a string"),
        ("null", "the body must be a JSON object, not null"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(
    api: Api, data: str | bytes, message: str
) -> None:
    reply = await api.call("POST", "/incidents", data=data)
    assert reply.status == 400
    assert reply.error["code"] == "bad_request"
    assert reply.error["message"].startswith(message)
    assert "field" not in reply.error


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"priority": "asap"},
            "priority",
            "priority: 'asap' is not one of low, normal, high, urgent",
        ),
        ({"priority": 3}, "priority", "priority: a string is needed, not a number"),
        ({"priority": None}, "priority", "priority: must not be null"),
        ({"priorty": "high"}, "priorty", None),
        ({"flags": "technical_investigation"}, "flags", "flags: an array is needed, not a string"),
        ({"flags": ["bogus"]}, "flags", None),
        ({"flags": [1]}, "flags", None),
        ({"caller_number": 312345678}, "caller_number", None),
        ({"caller_number": "  "}, "caller_number", "caller_number: must not be empty"),
        ({"caller_name": "x" * 129}, "caller_name", None),
        ({"related_incident_id": "7"}, "related_incident_id", None),
        ({"related_incident_id": True}, "related_incident_id", None),
        ({"related_incident_id": 0}, "related_incident_id", None),
        ({"related_incident_id": 999}, "related_incident_id", None),
        ({"received_at": "yesterday"}, "received_at", None),
        ({"received_at": "2026-11-18T10:00:00"}, "received_at", None),
        ({"received_at": "2026-02-30T10:00:00+09:00"}, "received_at", None),
        ({"call_linkedid": "1700000000.1"}, "call_linkedid", None),
    ],
)
async def test_bad_create_values_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str, message: str | None
) -> None:
    reply = await api.call("POST", "/incidents", json_body=body)
    assert reply.status == 422, reply.text
    assert reply.error["code"] == "invalid"
    assert reply.error["field"] == field
    assert reply.error["message"].startswith(f"{field}: ")
    if message is not None:
        assert reply.error["message"] == message
    assert (await api.call("GET", "/incidents")).body["incidents"] == []


async def test_unknown_fields_are_named(api: Api) -> None:
    reply = await api.call("POST", "/incidents", json_body={"zeta": 1, "alpha": 2})
    assert reply.error["field"] == "alpha"
    assert reply.error["message"].startswith("alpha: unknown field alpha, zeta (known: ")


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("", "PATCH", {}, None),
        ("", "PATCH", {"note": "only a note"}, None),
        ("", "PATCH", {"status": "closed"}, "status"),
        ("", "PATCH", {"notes": None}, "notes"),
        ("", "PATCH", {"category": ""}, "category"),
        ("", "PATCH", {"related_incident_id": "x"}, "related_incident_id"),
        ("/start", "POST", {"note": 5}, "note"),
        ("/start", "POST", {"at": "2026-11-18T10:00:00+09:00"}, "at"),
        ("/escalate", "POST", {}, "to"),
        ("/escalate", "POST", {"to": ""}, "to"),
        ("/escalate", "POST", {"to": "v", "by": "x"}, "by"),
        ("/progress", "POST", {}, "how"),
        ("/progress", "POST", {"how": "fax"}, "how"),
        ("/resolve", "POST", {"resolution": "third_line"}, "resolution"),
        ("/close", "POST", {"reason": "x"}, "reason"),
        ("/reopen", "POST", {"note": "x" * 4001}, "note"),
        ("/escalation-answer", "POST", {"note": []}, "note"),
        ("/surveys", "POST", {}, "answers"),
        ("/surveys", "POST", {"answers": []}, "answers"),
        ("/surveys", "POST", {"answers": [0]}, "answers"),
        ("/surveys", "POST", {"answers": [6]}, "answers"),
        ("/surveys", "POST", {"answers": [True]}, "answers"),
        ("/surveys", "POST", {"answers": "5"}, "answers"),
        ("/surveys", "POST", {"answers": [5], "respondent": 1}, "respondent"),
    ],
)
async def test_bad_action_bodies_are_422(
    api: Api, path: str, method: str, body: dict[str, Any], field: str | None
) -> None:
    iid = (await api.create())["id"]
    reply = await api.call(method, f"/incidents/{iid}{path}", json_body=body)
    assert reply.status == 422, reply.text
    assert reply.error["code"] == "invalid"
    assert reply.error.get("field") == field
    history = (await api.call("GET", f"/incidents/{iid}")).body["history"]
    assert len(history) == 1


async def test_actions_whose_fields_are_optional_take_no_body(api: Api) -> None:
    iid = (await api.create())["id"]
    reply = await api.call("POST", f"/incidents/{iid}/start")
    assert reply.status == 200
    reply = await api.call("POST", f"/incidents/{iid}/escalate")
    assert (reply.status, reply.error["field"]) == (422, "to")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-1-1"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"to": "tomorrow"}, "to"),
        ({"from": "2026-11-19", "to": "2026-11-18"}, "to"),
        ({"status": "bogus"}, "status"),
        ({"status": "received,"}, "status"),
        ({"open": "maybe"}, "open"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"agent_id": ""}, "agent_id"),
        ({"sort": "id"}, "sort"),
    ],
)
async def test_bad_query_parameters_are_422(api: Api, params: dict[str, str], field: str) -> None:
    reply = await api.call("GET", "/incidents", params=params)
    assert reply.status == 422, reply.text
    assert (reply.error["code"], reply.error["field"]) == ("invalid", field)


async def test_a_parameter_given_twice_is_refused(api: Api) -> None:
    reply = await api.call("GET", "/incidents", params=[("queue", "a"), ("queue", "b")])
    assert (reply.status, reply.error["field"]) == (422, "queue")


async def test_unknown_route_and_method_are_json(api: Api) -> None:
    reply = await api.call("GET", "/nothing-here")
    assert (reply.status, reply.error["code"]) == (404, "not_found")
    reply = await api.call("GET", "/incidents/abc")
    assert (reply.status, reply.error["code"]) == (404, "not_found")
    reply = await api.call("DELETE", "/incidents")
    assert (reply.status, reply.error["code"]) == (405, "method_not_allowed")
    assert "GET" in reply.headers["Allow"]
    assert reply.error["message"].startswith("DELETE is not allowed here")


async def test_a_too_large_body_is_413(api: Api) -> None:
    reply = await api.call("POST", "/incidents", json_body={"notes": "x" * 70_000})
    assert reply.status == 413
    assert reply.error == {
        "code": "too_large",
        "message": "request body too large: at most 65536 bytes",
    }


async def test_a_crash_is_a_500_with_the_details_only_in_the_log(api: Api) -> None:
    with api.engine.begin() as conn:
        conn.execute(text("DROP TABLE incidents"))
    with capture_logs() as logs:
        reply = await api.call("GET", "/incidents")
    assert reply.status == 500
    assert reply.error["code"] == "internal"
    message = reply.error["message"]
    assert message.startswith("internal error (ref ")
    assert "incidents" not in message
    assert "sql" not in reply.text.lower()
    entry = next(e for e in logs if e["event"] == "api.internal_error")
    assert entry["ref"] in message
    assert entry["exc_info"] is True
    assert entry["path"] == "/api/v1/incidents"


# Each of these was a 500 (issue 11): every bad input gets a 4xx naming its field.
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"caller_name": "\ud800"}, "caller_name"),
        ({"notes": "a\ud800b"}, "notes"),
        ({"category": "\udcff"}, "category"),
        ({"notes": "NUL\x00here"}, "notes"),
        ({"caller_number": "03\x1b[2J"}, "caller_number"),
        ({"received_at": "9999-12-31T23:59:59-23:59"}, "received_at"),
        ({"received_at": "0001-01-01T00:00:00+14:00"}, "received_at"),
        ({"related_incident_id": 10**30}, "related_incident_id"),
        ({"related_incident_id": 2**63}, "related_incident_id"),
    ],
)
async def test_what_was_a_500_is_a_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    # As a client sends them: JSON with \u escapes (a lone surrogate is legal JSON).
    reply = await api.call("POST", "/incidents", data=json.dumps(body))
    assert reply.status == 422, reply.text
    assert reply.error["field"] == field
    assert (await api.call("GET", "/incidents")).body["incidents"] == []


async def test_a_body_nested_3000_deep_is_a_400(api: Api) -> None:
    deep = '{"notes": ' + "[" * 3000 + "]" * 3000 + "}"
    reply = await api.call("POST", "/incidents", data=deep)
    assert reply.status == 400
    assert reply.error["message"] == "the body is nested too deeply"


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/incidents", {"from": "0001-01-01"}, "from"),
        ("/incidents", {"to": "9999-12-31"}, "to"),
        ("/incidents/figures", {"month": "9999-12"}, "month"),
        ("/incidents/figures", {"month": "0001-01"}, "month"),
        ("/incidents", {"caller_number": "03\x00"}, "caller_number"),
    ],
)
async def test_queries_out_of_range_are_422(
    api: Api, path: str, params: dict[str, str], field: str | None
) -> None:
    reply = await api.call("GET", path, params=params)
    assert reply.status in (400, 422), reply.text
    if field is not None:
        assert reply.error["field"] == field
