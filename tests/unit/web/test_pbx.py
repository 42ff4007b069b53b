"""The PBX endpoints over real HTTP, on a fake AMI: every route, who may call it, bad
payloads, unknown ids, and the PBX's refusals as the answers they mean."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from callcenter.ami import AMIConnectionError
from callcenter.incidents.store import IncidentStore
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.store.audit import AuditLog
from callcenter.store.calls import write_calls
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, Outcome
from callcenter.telephony.live import LiveState
from callcenter.web.app import make_app
from callcenter.web.auth import TokenStore
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.openapi import openapi
from tests.unit.calls.events import agent2_pickup_leg, unparked_call
from tests.unit.metrics.records import T0 as T0_CALLS
from tests.unit.metrics.records import load, random_calls
from tests.unit.schedule.support import FakeAMI, FakeClock, jst
from tests.unit.web.pbx_support import (
    AGENT1_LEG,
    AGENT1_UID,
    CALLER_UID,
    PARKED,
    FakePbx,
    hangup,
    live_with,
    make_deps,
    member,
    talking_events,
)
from tests.unit.web.support import CALENDAR, Api, Clock, Reply

TZ = ZoneInfo("Asia/Tokyo")
PEOPLE: dict[str, tuple[str, str, str | None]] = {
    "sup": ("suzuki", "supervisor", None),
    "admin": ("ops-admin", "admin", None),
    "a1": ("tanaka", "agent", "agent1"),
    "a2": ("sato", "agent", "agent2"),
    "aud": ("sla-audit", "auditor", None),
}


@dataclass
class Desk:
    api: Api
    live: LiveState
    ami: FakePbx
    mode_ami: FakeAMI
    keeper: ModeKeeper

    async def call(self, method: str, path: str, who: str | None = "sup", **kw: object) -> Reply:
        return await self.api.call(method, path, who=who, **kw)  # type: ignore[arg-type]

    def sent(self) -> list[str]:
        return self.ami.actions()


async def start(
    engine: Engine, live: LiveState, *, managed: bool = True, metrics_db: bool = True
) -> Desk:
    ami = FakePbx(live)
    mode_clock = FakeClock(jst(2026, 11, 18, 10, 0))
    mode_ami = FakeAMI(mode_clock)
    keeper = ModeKeeper(mode_ami, BusinessCalendar(), clock=mode_clock)
    pbx: PbxDeps = replace(
        make_deps(live, pbx=ami, keeper=keeper if managed else None),
        engine=engine if metrics_db else None,
    )
    clock = Clock()
    tokens = TokenStore(engine, clock=clock)
    issued = {key: tokens.create(*who)[0] for key, who in PEOPLE.items()}
    deps = ApiDeps(
        incidents=IncidentStore(engine),
        tokens=tokens,
        calendar=CALENDAR,
        audit=AuditLog(engine),
        clock=clock,
        pbx=pbx,
    )
    client = TestClient(TestServer(make_app(deps)))
    await client.start_server()
    api = Api(client, engine, deps.incidents, tokens, clock, issued)
    return Desk(api, live, ami, mode_ami, keeper)


@pytest.fixture
async def desk(engine: Engine, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Desk]:
    caplog.set_level(logging.INFO)
    d = await start(engine, live_with(*talking_events()))
    try:
        yield d
    finally:
        await d.api.client.close()
    for token in d.api.token.values():  # no token ever in an answer or the log
        assert all(token not in r.text for r in d.api.replies)
        assert token not in caplog.text


def ascii_json(body: object) -> str:
    """JSON with every non-ASCII character escaped: a lone surrogate can be sent too."""
    return json.dumps(body)


def errors(reply: Reply) -> tuple[int, str, str | None]:
    return reply.status, reply.error["code"], reply.error.get("field")


# -- reading ------------------------------------------------------------------------------


async def test_anyone_reads_queues_agents_calls_parked_and_targets(desk: Desk) -> None:
    # agent1 parked its caller: the slot holds the call, agent1's leg and device are free.
    for ev in (PARKED, hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID), member("support", "agent1")):
        desk.live.apply(ev)
    for who in ("a2", "sup", "admin"):
        queues = await desk.call("GET", "/queues", who)
        assert queues.status == 200, queues.text
        assert [q["name"] for q in queues.body["queues"]] == ["support", "small"]
    one = await desk.call("GET", "/queues/small", "a1")
    assert one.body["queue"]["members"][0]["agent_id"] == "agent2"
    agents = await desk.call("GET", "/agents", "a1")
    assert [(a["id"], a["state"]) for a in agents.body["agents"]] == [
        ("agent1", "free"),
        ("agent2", "free"),
    ]
    agent = await desk.call("GET", "/agents/agent2", "a1")
    assert agent.body["agent"]["queues"] == ["small", "support"]
    calls = await desk.call("GET", "/calls", "a1")
    assert [(c["linkedid"], c["state"]) for c in calls.body["calls"]] == [(CALLER_UID, "parked")]
    parked = await desk.call("GET", "/parked", "a2")
    assert [(p["slot"], p["parker"]) for p in parked.body["parked"]] == [("701", "agent1")]
    targets = await desk.call("GET", "/transfer-targets", "a2")
    assert targets.body == {
        "targets": [{"name": "second-line", "number": "8001", "label": "二次サポート"}]
    }


async def test_unknown_ids_and_parameters(desk: Desk) -> None:
    assert errors(await desk.call("GET", "/queues/nope")) == (404, "not_found", None)
    assert errors(await desk.call("GET", "/agents/nope")) == (404, "not_found", None)
    assert (await desk.call("GET", "/agents/bad%20id")).status == 404  # not even a route
    r = await desk.call("GET", "/queues", params={"limit": "1"})
    assert errors(r) == (422, "invalid", "limit")
    for action in ("login", "logout", "pause", "resume", "park", "pickup", "transfer"):
        r = await desk.call("POST", f"/agents/agent9/{action}", "sup", json_body={})
        assert errors(r) == (404, "not_found", None), action
    assert desk.sent() == []


async def test_no_token_no_answer(desk: Desk) -> None:
    for method, path in (("GET", "/queues"), ("POST", "/agents/agent1/pause"), ("GET", "/live")):
        r = await desk.call(method, path, who=None)
        assert errors(r) == (401, "unauthorized", None), path


async def test_a_server_without_the_pbx_says_so(engine: Engine) -> None:
    from tests.unit.web.support import start_api

    api = await start_api(engine, Clock())
    try:
        r = await api.call("GET", "/queues")
        assert errors(r) == (503, "unavailable", None)
    finally:
        await api.client.close()


# -- agents: log in, log out, pause, resume -----------------------------------------------


async def test_an_agent_acts_on_itself_and_staff_on_anyone(desk: Desk) -> None:
    r = await desk.call("POST", "/agents/agent1/pause", "a2", json_body={"reason": "lunch"})
    assert errors(r) == (403, "forbidden", None)
    r = await desk.call("POST", "/agents/nope/pause", "a2", json_body={"reason": "lunch"})
    assert r.status == 403  # an agent learns nothing about other ids
    assert desk.sent() == []

    desk.ami.then["QueuePause"] = lambda h: [
        member("support", "agent2", paused=True, reason=h["Reason"]),
        member("small", "agent2", paused=True, reason=h["Reason"]),
    ]
    r = await desk.call("POST", "/agents/agent2/pause", "a2", json_body={"reason": "昼休み"})
    assert r.status == 200, r.text
    assert (r.body["agent"]["state"], r.body["agent"]["paused_reason"]) == ("paused", "昼休み")
    assert desk.ami.sent[-1] == (
        "QueuePause",
        {"Interface": "PJSIP/agent2", "Paused": "true", "Reason": "昼休み"},
    )
    desk.ami.then["QueuePause"] = lambda h: [member("small", "agent2")]
    r = await desk.call("POST", "/agents/agent2/resume", "sup", json_body={"queue": "small"})
    assert r.status == 200
    assert r.body["agent"]["paused_queues"] == ["support"]
    assert desk.ami.sent[-1][1]["Queue"] == "small"

    desk.ami.then["QueueAdd"] = lambda h: [member(h["Queue"], "agent1")]
    r = await desk.call("POST", "/agents/agent1/login", "admin", json_body={"queues": ["small"]})
    assert r.body["joined"] == ["small"]
    assert r.body["agent"]["queues"] == ["small", "support"]
    r = await desk.call("POST", "/agents/agent1/logout", "a1", json_body={"queues": "small"})
    assert (r.status, r.body["left"]) == (200, ["small"])
    r = await desk.call("POST", "/agents/agent1/login", "a1")  # no body: its own queues
    assert r.status == 200
    assert desk.ami.sent[-1] == (
        "QueueAdd",
        {
            "Queue": "support",
            "Interface": "PJSIP/agent1",
            "MemberName": "Agent 1",
            "StateInterface": "PJSIP/agent1",
            "Paused": "false",
        },
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("pause", {}, "reason"),
        ("pause", {"reason": ""}, "reason"),
        ("pause", {"reason": "a" * 80}, "reason"),  # 80 bytes: Asterisk keeps 79
        ("pause", {"reason": "会議" * 14}, "reason"),  # 84 bytes of UTF-8
        ("pause", {"reason": "lunch\r\nEvent: x"}, "reason"),  # AMI header injection
        ("pause", {"reason": 5}, "reason"),
        ("pause", {"reason": "lunch", "queue": "nope"}, "queue"),
        ("pause", {"reason": "lunch", "why": "x"}, "why"),
        ("resume", {"queue": 1}, "queue"),
        ("login", {"queues": ["nope"]}, "queues"),
        ("login", {"queues": []}, "queues"),
        ("login", {"queues": [1]}, "queues"),
        ("logout", {"queues": None}, "queues"),
        ("park", {"timeout_seconds": 0}, "timeout_seconds"),
        ("park", {"timeout_seconds": 3601}, "timeout_seconds"),
        ("park", {"timeout_seconds": "10"}, "timeout_seconds"),
        ("pickup", {}, "slot"),
        ("pickup", {"slot": "70a"}, "slot"),
        ("transfer", {"to": "1001"}, "kind"),
        ("transfer", {"kind": "warm", "to": "1001"}, "kind"),
        ("transfer", {"kind": "blind"}, "to"),
        ("transfer", {"kind": "blind", "to": "10#1"}, "to"),
        ("transfer", {"kind": "blind", "to": "1001\r\nAction: Originate"}, "to"),
        ("transfer", {"kind": "blind", "to": "1001\x00"}, "to"),
        ("transfer", {"kind": "attended", "to": "\x1b[2J1001"}, "to"),
        ("pause", {"reason": "lunch\x00"}, "reason"),
        ("pause", {"reason": "lunch\x7f"}, "reason"),
        ("pause", {"reason": "lunch\ud800"}, "reason"),  # a lone surrogate: no UTF-8
        ("pickup", {"slot": "\u0967\u0966\u0967"}, "slot"),  # Devanagari digits: not a slot
        ("pickup", {"slot": "701\x00"}, "slot"),
        ("transfer/complete", {"x": 1}, "x"),
    ],
)
async def test_bad_payloads_name_the_field(
    desk: Desk, path: str, body: dict[str, object], field: str
) -> None:
    r = await desk.call("POST", f"/agents/agent1/{path}", "a1", data=ascii_json(body))
    assert errors(r) == (422, "invalid", field), r.text
    assert desk.sent() == []


@pytest.mark.parametrize("data", ["{", "[1]", '"x"', "\xff"])
async def test_a_body_that_is_not_a_json_object(desk: Desk, data: str) -> None:
    r = await desk.call("POST", "/agents/agent1/pause", "a1", data=data.encode("latin-1"))
    assert errors(r) == (400, "bad_request", None)


async def test_the_pbx_refusing_or_gone(desk: Desk) -> None:
    desk.ami.refuse["QueuePause"] = "Interface not found"
    r = await desk.call("POST", "/agents/agent1/pause", "a1", json_body={"reason": "x"})
    assert errors(r) == (409, "conflict", None)
    assert "not logged in" in r.error["message"]
    desk.ami.refuse["QueueRemove"] = "Member not dynamic"
    r = await desk.call("POST", "/agents/agent1/logout", "a1", json_body={"queues": ["support"]})
    assert errors(r) == (409, "conflict", None)
    assert "permanent member" in r.error["message"]
    desk.ami.refuse["QueueAdd"] = "Out of memory"
    r = await desk.call("POST", "/agents/agent1/login", "a1")
    assert errors(r) == (502, "pbx_error", None)
    assert "Out of memory" in r.error["message"]
    desk.ami.refuse["BlindTransfer"] = AMIConnectionError("not connected to 127.0.0.1:5038")
    r = await desk.call("POST", "/agents/agent1/transfer", "a1",
                        json_body={"kind": "blind", "to": "1001"})  # fmt: skip
    assert errors(r) == (502, "pbx_error", None)
    assert "not connected" in r.error["message"]


# -- calls: park, pick up, transfer -------------------------------------------------------


async def test_park_and_pick_up_on_another_phone(desk: Desk) -> None:
    desk.ami.then["Park"] = lambda h: [PARKED]
    r = await desk.call("POST", "/agents/agent1/park", "a2", json_body={})
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent1/park", "a1", json_body={"timeout_seconds": 60})
    assert r.status == 200, r.text
    assert (r.body["parked"]["slot"], r.body["parked"]["parker"]) == ("701", "agent1")
    assert desk.ami.sent[-1] == (
        "Park",
        {
            "Channel": "PJSIP/trunk-00000000",
            "TimeoutChannel": "PJSIP/agent1-00000001",
            "Parkinglot": "default",
            "Timeout": "60000",
        },
    )
    r = await desk.call("POST", "/agents/agent2/pickup", "a1", json_body={"slot": "701"})
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent2/pickup", "a2", json_body={"slot": "702"})
    assert errors(r) == (404, "not_found", None)
    r = await desk.call("POST", "/agents/agent1/pickup", "a1", json_body={"slot": "701"})
    assert errors(r) == (409, "conflict", None)  # agent1's phone still has its leg

    def answered(_h: dict[str, str]) -> list[dict[str, str]]:
        return [*agent2_pickup_leg(), unparked_call()]

    desk.ami.then["Originate"] = answered
    r = await desk.call("POST", "/agents/agent2/pickup", "a2", json_body={"slot": "701"})
    assert r.status == 200, r.text
    assert desk.ami.sent[-1][1]["Channel"] == "PJSIP/agent2"
    two = (await desk.call("GET", "/agents/agent2", "a1")).body["agent"]
    assert (two["state"], two["on_call"]["caller_num"]) == ("on_call", "0311110001")
    assert (await desk.call("GET", "/parked")).body["parked"] == []


async def test_not_on_a_call(desk: Desk) -> None:
    for path, body in (("park", {}), ("transfer", {"kind": "attended", "to": "second-line"})):
        r = await desk.call("POST", f"/agents/agent2/{path}", "a2", json_body=body)
        assert errors(r) == (409, "conflict", None), path
        assert "not talking to a caller" in r.error["message"]
    assert desk.sent() == []


async def test_blind_and_attended_transfers(desk: Desk) -> None:
    r = await desk.call("POST", "/agents/agent1/transfer", "a2",
                        json_body={"kind": "blind", "to": "1001"})  # fmt: skip
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a1")
    assert errors(r) == (409, "conflict", None)
    assert "no attended transfer" in r.error["message"]

    r = await desk.call("POST", "/agents/agent1/transfer", "a1",
                        json_body={"kind": "attended", "to": "second-line"})  # fmt: skip
    assert r.status == 200, r.text
    assert r.body["transfer"] == {
        "kind": "attended",
        "agent_id": "agent1",
        "target": "8001",
        "context": "callcenter-agents",
    }
    assert desk.ami.sent[-1] == (
        "Atxfer",
        {"Channel": "PJSIP/agent1-00000001", "Exten": "8001#", "Context": "callcenter-agents"},
    )
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a2")
    assert r.status == 403
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "sup")
    assert r.status == 200, r.text
    assert desk.ami.sent[-1] == ("Hangup", {"Channel": "PJSIP/agent1-00000001"})
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a1")
    assert r.status == 409  # done: nothing pending any more

    r = await desk.call("POST", "/agents/agent1/transfer", "sup",
                        json_body={"kind": "blind", "to": "1001"})  # fmt: skip
    assert r.body["transfer"]["kind"] == "blind"
    assert desk.ami.sent[-1] == (
        "BlindTransfer",
        {"Channel": "PJSIP/agent1-00000001", "Exten": "1001", "Context": "callcenter-agents"},
    )


async def test_completing_after_the_agent_hung_up(desk: Desk) -> None:
    r = await desk.call("POST", "/agents/agent1/transfer", "a1",
                        json_body={"kind": "attended", "to": "1001"})  # fmt: skip
    assert r.status == 200
    desk.live.apply(hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID))  # hanging up completed it
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a1")
    assert errors(r) == (409, "conflict", None)
    r = await desk.call("POST", "/agents/agent1/transfer/complete", "a1")
    assert "no attended transfer" in r.error["message"]


# -- figures ------------------------------------------------------------------------------


async def test_todays_figures(desk: Desk) -> None:
    r = await desk.call("GET", "/metrics/today", "a1")
    assert set(r.body) == {"all", "by_queue", "coverage"}
    assert r.body["all"]["targets"]["abandonment_rate"]["at_risk"] is True
    r = await desk.call("GET", "/metrics/today", "a1", params={"queue": "small"})
    assert (r.body["queue"], r.body["calls"]) == ("small", 0)
    r = await desk.call("GET", "/metrics/today", params={"queue": "nope"})
    assert errors(r) == (422, "invalid", "queue")


def finished(linkedid: str, day: str, outcome: Outcome, queue: str) -> CallRecord:
    y, m, d = (int(part) for part in day.split("-"))
    at = jst(y, m, d, 10).timestamp()
    rec = CallRecord("lab", linkedid, at, queue=queue, queued_at=at + 1, ended_at=at + 60)
    if outcome is Outcome.ANSWERED:
        rec.answered_at = at + 6
    rec.outcome = outcome
    return rec


async def test_past_figures_for_staff(desk: Desk, engine: Engine) -> None:
    write_calls(
        engine,
        [
            call_row(finished("a", "2026-11-02", Outcome.ANSWERED, "support"), TZ),
            call_row(finished("b", "2026-11-03", Outcome.ABANDONED, "small"), TZ),
            call_row(finished("c", "2026-12-01", Outcome.ANSWERED, "support"), TZ),
        ],
    )
    period = {"from": "2026-11-01", "to": "2026-12-01"}
    r = await desk.call("GET", "/metrics", "sup", params=period)
    assert r.status == 200, r.text
    assert (r.body["from"], r.body["to"], r.body["total_incoming"]) == (
        "2026-11-01",
        "2026-12-01",
        2,
    )
    assert (r.body["answered"], r.body["abandoned"], r.body["asa_seconds"]) == (1, 1, 5.0)
    r = await desk.call("GET", "/metrics", "admin", params={**period, "by": "queue"})
    assert r.body["by"] == "queue"
    assert {k: g["calls"] for k, g in r.body["groups"].items()} == {"small": 1, "support": 1}
    assert r.body["total"]["calls"] == 2
    r = await desk.call("GET", "/metrics", "sup", params={**period, "queue": "small"})
    assert r.body["abandoned"] == 1
    assert (await desk.call("GET", "/metrics", "a1", params=period)).status == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2026-12-01"}, "from"),
        ({"from": "2026-11-01"}, "to"),
        ({"from": "2026-11-31", "to": "2026-12-01"}, "from"),
        ({"from": "2026-11-1", "to": "2026-12-01"}, "from"),
        ({"from": "2026-12-01", "to": "2026-12-01"}, "to"),
        ({"from": "2026-11-01", "to": "2026-12-01", "by": "week"}, "by"),
        ({"from": "2026-11-01", "to": "2026-12-01", "by": "queue,agent"}, "by"),
        ({"from": "2026-11-01", "to": "2026-12-01", "month": "x"}, "month"),
    ],
)
async def test_past_figures_refuse_bad_periods(
    desk: Desk, params: dict[str, str], field: str
) -> None:
    assert errors(await desk.call("GET", "/metrics", params=params)) == (422, "invalid", field)


async def test_past_figures_need_the_database(engine: Engine) -> None:
    d = await start(engine, LiveState(), metrics_db=False)
    try:
        r = await d.call("GET", "/metrics", params={"from": "2026-11-01", "to": "2026-11-02"})
        assert errors(r) == (503, "unavailable", None)
    finally:
        await d.api.client.close()


# -- the service mode ---------------------------------------------------------------------


async def test_an_override_until_the_year_9999_is_a_422_not_a_500(desk: Desk) -> None:
    body = {"mode": "closed", "until": "9999-12-31T23:59:59+09:00"}
    r = await desk.call("PUT", "/service-mode", "sup", json_body=body)
    assert r.status == 422, r.text
    assert r.error["field"] == "until"
    assert ("callcenter", "override") not in desk.mode_ami.db


async def test_service_mode_override_and_back(desk: Desk) -> None:
    r = await desk.call("GET", "/service-mode", "a1")
    assert (r.body["managed"], r.body["mode"], r.body["reason"]) == (True, "open", "hours")
    until = jst(2026, 11, 18, 12, 0)
    body = {"mode": "closed", "until": until.isoformat(), "note": "停電"}
    assert (await desk.call("PUT", "/service-mode", "a1", json_body=body)).status == 403
    r = await desk.call("PUT", "/service-mode", "sup", json_body=body)
    assert r.status == 200, r.text
    assert (r.body["mode"], r.body["reason"]) == ("closed", "override")
    assert r.body["override"]["note"] == "suzuki: 停電"
    assert desk.mode_ami.db[("callcenter", "override")].startswith("closed|")
    assert desk.mode_ami.modes()[-1] == "closed"
    r = await desk.call("GET", "/service-mode", "a2")
    assert r.body["override"]["mode"] == "closed"

    assert (await desk.call("DELETE", "/service-mode/override", "a2")).status == 403
    r = await desk.call("DELETE", "/service-mode/override", "admin")
    assert r.status == 200
    assert (r.body["mode"], r.body["override"]) == ("open", None)
    assert ("callcenter", "override") not in desk.mode_ami.db
    r = await desk.call("DELETE", "/service-mode/override", "admin")
    assert r.status == 200  # none: nothing to clear, no error

    desk.mode_ami.down = True
    r = await desk.call("PUT", "/service-mode", "admin", json_body={"mode": "open"})
    assert errors(r) == (502, "pbx_error", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "mode"),
        ({"mode": "maintenance"}, "mode"),
        ({"mode": "closed", "until": "2026-11-18T12:00:00"}, "until"),  # no offset
        ({"mode": "closed", "until": "2026-11-18T09:00:00+09:00"}, "until"),  # the past
        ({"mode": "closed", "until": "tomorrow"}, "until"),
        ({"mode": "closed", "note": "x" * 201}, "note"),
        # Issue 11: a NUL in the note reached the AMI wire, and a note AMI refused got a
        # 422 naming "mode".
        ({"mode": "closed", "note": "停電\x00"}, "note"),
        ({"mode": "closed", "note": "\x1b[31m停電"}, "note"),
        ({"mode": "closed", "note": "停電\x7f"}, "note"),
        ({"mode": "closed", "note": "停電\x85"}, "note"),  # C1 (NEL)
        ({"mode": "closed", "note": "停電\r\nAction: Originate"}, "note"),
        ({"mode": "closed", "note": "停電\ttab"}, "note"),
        ({"mode": "closed", "note": "停電\u2028"}, "note"),  # line separator
        ({"mode": "closed", "note": "停電\ud800"}, "note"),  # a lone surrogate: no UTF-8
        ({"mode": "closed", "note": 5}, "note"),
        ({"mode": "closed", "who": "me"}, "who"),
    ],
)
async def test_service_mode_refuses_bad_bodies(
    desk: Desk, body: dict[str, object], field: str
) -> None:
    r = await desk.call("PUT", "/service-mode", "sup", data=ascii_json(body))
    assert errors(r) == (422, "invalid", field), r.text
    assert r.error["message"].startswith(f"{field}: ")
    assert ("callcenter", "override") not in desk.mode_ami.db
    assert desk.mode_ami.puts == []


async def test_service_mode_note_refusal_names_the_character(desk: Desk) -> None:
    body = {"mode": "closed", "note": "停電\x00のため"}
    r = await desk.call("PUT", "/service-mode", "sup", json_body=body)
    assert errors(r) == (422, "invalid", "note")
    assert "U+0000" in r.error["message"]
    # A note of Japanese text and spaces is taken whole.
    body = {"mode": "closed", "note": "停電のため 臨時閉庁"}
    r = await desk.call("PUT", "/service-mode", "sup", json_body=body)
    assert r.status == 200, r.text
    assert r.body["override"]["note"] == "suzuki: 停電のため 臨時閉庁"


async def test_service_mode_keeper_refusals_name_their_own_field(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The keeper's own checks (e.g. a caller that is not the API) come back under the
    # field the keeper names, not under "mode".
    async def refuse(*_a: object, **_k: object) -> object:
        raise ValueError("note: must not contain control characters (found U+0000)")

    monkeypatch.setattr(desk.keeper, "override", refuse)
    r = await desk.call("PUT", "/service-mode", "sup", json_body={"mode": "closed"})
    assert errors(r) == (422, "invalid", "note")


async def test_service_mode_of_a_daemon_that_does_not_manage_it(engine: Engine) -> None:
    d = await start(engine, LiveState(), managed=False)
    try:
        assert (await d.call("GET", "/service-mode")).body["managed"] is False
        r = await d.call("PUT", "/service-mode", json_body={"mode": "closed"})
        assert errors(r) == (409, "conflict", None)
        assert "does not manage" in r.error["message"]
        assert (await d.call("DELETE", "/service-mode/override")).status == 409
        assert (await d.call("PUT", "/service-mode", "a1", json_body={})).status == 403
    finally:
        await d.api.client.close()


async def test_default_until_is_the_next_calendar_change(desk: Desk) -> None:
    r = await desk.call("PUT", "/service-mode", "sup", json_body={"mode": "closed"})
    assert r.status == 200
    until = r.body["override"]["until"]
    assert until.startswith("2026-11-18T18:15:00")


# -- the auditor (issue 12): reads everything, changes nothing ------------------------


def _concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


async def test_an_auditor_gets_403_on_every_route_that_changes_something(desk: Desk) -> None:
    iid = str((await desk.api.create(who="sup"))["id"])
    before = (await desk.call("GET", f"/incidents/{iid}")).body
    writes = [
        (method.upper(), path)
        for path, ops in openapi()["paths"].items()
        for method in ops
        if method != "get" and "second-line" not in path  # signed, no bearer: not a role
    ]
    assert len(writes) >= 20
    ids = {"id": iid, "name": "support", "month": "2024-06"}
    for method, path in writes:
        url = _concrete(path.removeprefix("/api/v1"), ids)
        if url.startswith("/agents/"):
            url = _concrete(path.removeprefix("/api/v1"), {**ids, "id": "agent1"})
        reply = await desk.call(method, url, "aud", json_body={"note": "x", "mode": "closed"})
        assert (reply.status, reply.error["code"]) == (403, "forbidden"), (method, url)
        assert reply.error["message"] == "an auditor reads and changes nothing"
    assert (await desk.call("GET", f"/incidents/{iid}")).body == before
    assert desk.sent() == []  # nothing reached the PBX


async def test_an_auditor_reads_the_pbx_side(desk: Desk) -> None:
    for path in ("/queues", "/agents", "/calls", "/parked", "/metrics/today", "/service-mode"):
        assert (await desk.call("GET", path, "aud")).status == 200, path


# -- the call detail (issue 12): the rows behind the figures ----------------------------


async def test_the_call_detail_pages_and_exports_the_rows_behind_the_figures(
    desk: Desk,
) -> None:
    calls = random_calls(random.Random(7), 230, T0_CALLS, 2 * 86400)
    load(desk.api.engine, calls)
    period = {"from": "2024-06-01", "to": "2024-06-04"}  # T0 is 09:00: into a third day
    r = await desk.call("GET", "/call-records", "aud", params={**period, "limit": "100"})
    assert r.status == 200, r.text
    assert (r.body["total"], len(r.body["calls"])) == (230, 100)
    seen = list(r.body["calls"])
    for offset in (100, 200):
        page = await desk.call(
            "GET", "/call-records", "aud", params={**period, "offset": str(offset)}
        )
        seen.extend(page.body["calls"])
    assert sorted(c["linkedid"] for c in seen) == sorted(c.linkedid for c in calls)
    figures = (await desk.call("GET", "/metrics", "aud", params=period)).body
    incoming = sum(c["incoming"] for c in seen)
    assert incoming == figures["total_incoming"]
    assert sum(c["abandoned"] for c in seen) / incoming == figures["abandonment_rate"]
    assert sum(c["busy"] for c in seen) / incoming == figures["busy_rate"]
    assert sum(c["within_sl"] for c in seen) / incoming == figures["service_level"]
    # Filters.
    r = await desk.call(
        "GET", "/call-records", "sup", params={**period, "outcome": "abandoned,answered"}
    )
    assert {c["outcome"] for c in r.body["calls"]} <= {"abandoned", "answered"}
    assert (await desk.call("GET", "/call-records", "a1", params=period)).status == 403
    bad = await desk.call(
        "GET", "/call-records", "aud", params={"from": "2024-06-03", "to": "2024-06-01"}
    )
    assert (bad.status, bad.error["field"]) == (422, "to")
    # The export: every row, as Excel reads it (a BOM), its flags as 1/0.
    export = await desk.call("GET", "/call-records/export", "aud", params=period)
    assert export.status == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    assert export.text.startswith("\ufefflinkedid,")
    lines = list(csv.DictReader(io.StringIO(export.text.removeprefix("\ufeff"))))
    assert len(lines) == 230
    assert sum(int(x["abandoned"]) for x in lines) == sum(c["abandoned"] for c in seen)


# -- agent activity -------------------------------------------------------------------------


def _activity(engine: Engine) -> None:
    """agent1 on 2026-11-02: logged in 08:30-12:00, paused 10:00-10:15 for '休憩',
    a 40-minute call ending at 11:40; agent2 logged in 09:00-10:00."""
    from callcenter.agents.activity import AgentEvent
    from callcenter.agents.record import write_events
    from callcenter.coverage import COVERAGE

    def t(hhmm: str) -> datetime:
        h, m = hhmm.split(":")
        return datetime(2026, 11, 2, int(h), int(m), tzinfo=TZ).astimezone(UTC)

    server = make_deps(LiveState()).cfg.server.id
    write_events(
        engine,
        server,
        [
            AgentEvent(t("08:30"), "agent1", "support", "login"),
            AgentEvent(t("09:00"), "agent2", "small", "login"),
            AgentEvent(t("10:00"), "agent1", "support", "pause", reason="休憩"),
            AgentEvent(t("10:00"), "agent2", "small", "logout"),
            AgentEvent(t("10:15"), "agent1", "support", "resume"),
            AgentEvent(t("11:40"), "agent1", "support", "talk", seconds=2400),
            AgentEvent(t("12:00"), "agent1", "support", "logout"),
        ],
    )
    with engine.begin() as conn:
        conn.execute(
            COVERAGE.insert().values(
                server_id=server,
                source="ami",
                run_id="r",
                started_at=t("07:00"),
                ended_at=t("23:00"),
            )
        )


async def test_agent_activity_for_the_agent_and_staff(desk: Desk, engine: Engine) -> None:
    _activity(engine)
    period = {"from": "2026-11-02", "to": "2026-11-03"}
    r = await desk.call("GET", "/agents/agent1/activity", "a1", params=period)
    assert r.status == 200, r.text
    assert (r.body["from"], r.body["to"], r.body["agent"]) == ("2026-11-02", "2026-11-03", "agent1")
    (day,) = r.body["days"]
    assert day["day"] == "2026-11-02"
    assert day["login_seconds"] == 12600.0
    assert day["pause_by_reason"] == {"休憩": 900.0}
    assert day["talk_seconds"] == 2400.0
    assert day["occupancy"] == 2400 / 11700
    assert [(i["kind"], i["reason"]) for i in day["intervals"]] == [
        ("logged_in", None),
        ("paused", "休憩"),
        ("talk", None),
    ]
    # An agent reads only its own; staff read anyone's, and everyone's at once.
    assert errors(await desk.call("GET", "/agents/agent2/activity", "a1", params=period))[0] == 403
    r = await desk.call("GET", "/agents/agent2/activity", "sup", params=period)
    assert [d["login_seconds"] for d in r.body["days"]] == [3600.0]
    r = await desk.call("GET", "/activity", "admin", params=period)
    assert [(d["agent"], d["day"]) for d in r.body["days"]] == [
        ("agent1", "2026-11-02"),
        ("agent2", "2026-11-02"),
    ]
    assert r.body["agent"] is None
    r = await desk.call("GET", "/activity", "a2", params=period)
    assert (r.body["agent"], [d["agent"] for d in r.body["days"]]) == ("agent2", ["agent2"])
    r = await desk.call("GET", "/agents/nobody/activity", "sup", params=period)
    assert r.status == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2026-11-03"}, "from"),
        ({"from": "2026-11-02", "to": "2026-11-02"}, "to"),
        ({"from": "2026-01-01", "to": "2027-01-03"}, "to"),
        ({"from": "2026-11-02", "to": "2026-11-03", "agent": "x"}, "agent"),
    ],
)
async def test_agent_activity_refuses_bad_periods(
    desk: Desk, params: dict[str, str], field: str
) -> None:
    for path in ("/activity", "/agents/agent1/activity"):
        assert errors(await desk.call("GET", path, params=params)) == (422, "invalid", field)


async def test_agent_activity_needs_the_database(engine: Engine) -> None:
    d = await start(engine, LiveState(), metrics_db=False)
    try:
        r = await d.call("GET", "/activity", params={"from": "2026-11-01", "to": "2026-11-02"})
        assert errors(r) == (503, "unavailable", None)
    finally:
        await d.api.client.close()


# -- the monthly report (issue 12) -----------------------------------------------------------


async def test_the_monthly_report_in_every_form_for_readers_only(desk: Desk) -> None:
    load(desk.api.engine, random_calls(random.Random(3), 50, T0_CALLS, 86400))
    figures = (
        await desk.call("GET", "/metrics", "aud", params={"from": "2024-06-01", "to": "2024-07-01"})
    ).body
    as_json = await desk.call("GET", "/reports/monthly/2024-06", "aud", params={"format": "json"})
    assert as_json.status == 200, as_json.text
    doc = json.loads(as_json.text)
    assert doc["calls"]["total_incoming"] == figures["total_incoming"]
    assert doc["calls"]["abandonment_rate"] == figures["abandonment_rate"]
    as_csv = await desk.call("GET", "/reports/monthly/2024-06", "sup", params={"format": "csv"})
    assert as_csv.headers["Content-Disposition"].startswith("attachment;")
    assert as_csv.text.startswith("\ufeff")
    as_html = await desk.call("GET", "/reports/monthly/2024-06", "sup", params={"lang": "en"})
    assert as_html.headers["Content-Type"].startswith("text/html")
    assert "Abandonment rate" in as_html.text
    assert (await desk.call("GET", "/reports/monthly/2024-06", "a1")).status == 403
    bad = await desk.call("GET", "/reports/monthly/2024-13", "aud")
    assert (bad.status, bad.error["field"]) == (422, "month")
    assert (await desk.call("GET", "/reports/archive", "aud")).body == {"reports": []}
    missing = await desk.call("GET", "/reports/archive/2024-06/pdf", "aud")
    assert missing.status == 404


# -- the audit trail (issue 14) ----------------------------------------------------------------


async def test_every_change_is_in_the_audit_trail_with_who_what_and_how_it_ended(
    desk: Desk,
) -> None:
    desk.ami.then["QueuePause"] = lambda h: [
        member("support", "agent2", paused=True, reason=h["Reason"]),
        member("small", "agent2", paused=True, reason=h["Reason"]),
    ]
    assert (
        await desk.call("POST", "/agents/agent2/pause", "a2", json_body={"reason": "昼休み"})
    ).status == 200
    refused = await desk.call("POST", "/agents/agent1/pause", "a2", json_body={"reason": "x"})
    assert refused.status == 403
    mode = await desk.call("PUT", "/service-mode", "sup", json_body={"mode": "closed"})
    assert mode.status == 200
    iid = (await desk.api.create(who="sup"))["id"]
    await desk.call("POST", f"/incidents/{iid}/start", "sup", json_body={"note": "対応開始"})
    denied = await desk.call("POST", f"/incidents/{iid}/close", "aud")
    assert denied.status == 403
    await desk.call("GET", "/queues", "sup")  # a read: not in the trail

    r = await desk.call("GET", "/audit", "aud")
    assert r.status == 200, r.text
    got = [
        (e["actor"], e["role"], e["action"], e["target"], e["result"])
        for e in reversed(r.body["entries"])
    ]
    assert got == [
        ("agent2", "agent", "agents.pause", "id=agent2", 200),
        ("agent2", "agent", "agents.pause", "id=agent1", 403),
        ("suzuki", "supervisor", "service-mode.set_mode", "", 200),
        ("suzuki", "supervisor", "incidents.create", "", 201),
        ("suzuki", "supervisor", "incidents.start", f"id={iid}", 200),
        ("sla-audit", "auditor", "incidents.close", f"id={iid}", 403),
    ]
    first = r.body["entries"][-1]
    assert first["detail"] == {"reason": "昼休み", "queue": None}
    assert first["via"] == "api"
    only = await desk.call("GET", "/audit", "sup", params={"action": "agents.pause"})
    assert only.body["total"] == 2
    mine = await desk.call("GET", "/audit", "sup", params={"actor": "suzuki", "limit": "2"})
    assert (mine.body["total"], len(mine.body["entries"])) == (3, 2)
    assert (await desk.call("GET", "/audit", "a1")).status == 403
    # Append-only: the database itself refuses to change or remove a row.
    with pytest.raises(DBAPIError), desk.api.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(DBAPIError), desk.api.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert (await desk.call("GET", "/audit", "aud")).body["total"] == 6


async def test_improvement_actions_are_written_by_staff_read_by_auditors_and_reported(
    desk: Desk,
) -> None:
    r = await desk.call(
        "POST",
        "/reports/monthly/2024-06/actions",
        "sup",
        json_body={"title": "朝の増員", "body": "9時台に1名追加", "owner": "鈴木"},
    )
    assert r.status == 201, r.text
    aid = r.body["action"]["id"]
    assert (r.body["action"]["author"], r.body["action"]["status"]) == ("suzuki", "planned")
    denied = await desk.call(
        "POST", "/reports/monthly/2024-06/actions", "aud", json_body={"title": "x"}
    )
    assert denied.status == 403
    assert (
        await desk.call("POST", "/reports/monthly/2024-06/actions", "a1", json_body={"title": "x"})
    ).status == 403
    changed = await desk.call(
        "PATCH", f"/reports/actions/{aid}", "admin", json_body={"status": "done"}
    )
    assert changed.body["action"]["status"] == "done"
    listed = await desk.call("GET", "/reports/monthly/2024-06/actions", "aud")
    assert [a["title"] for a in listed.body["actions"]] == ["朝の増員"]
    report = await desk.call("GET", "/reports/monthly/2024-06", "aud", params={"format": "html"})
    assert "朝の増員" in report.text
    bad = await desk.call(
        "POST", "/reports/monthly/2024-06/actions", "sup", json_body={"title": " "}
    )
    assert (bad.status, bad.error["field"]) == (422, "title")
    gone = await desk.call("DELETE", f"/reports/actions/{aid}", "sup")
    assert gone.body == {"actions": []}
    assert (await desk.call("DELETE", f"/reports/actions/{aid}", "sup")).status == 404
    trend = await desk.call("GET", "/reports/trend", "aud", params={"to": "2024-06", "months": "3"})
    assert trend.status == 200, trend.text
    assert [m["month"] for m in trend.body["months"]] == ["2024-04", "2024-05", "2024-06"]


SAMPLE = {"month": "2026-11", "slot": "701"}  # path values of the shape the routes take


async def test_every_route_that_changes_something_is_audited(desk: Desk) -> None:
    """Walks the API's own document: each operation that is not a read, called once by a
    supervisor (with made-up ids and an empty body: whatever it answers), leaves exactly
    one row in the trail, with its action, target and status."""
    doc = (await desk.call("GET", "/openapi.json", None)).body
    called: list[tuple[str, str, int]] = []
    for path, item in sorted(doc["paths"].items()):
        for method, op in sorted(item.items()):
            if method not in ("post", "put", "patch", "delete"):
                continue
            if op.get("security", [{"bearer": []}]) != [{"bearer": []}]:
                continue  # signed, not a bearer: the second line's answer (test_second_line)
            concrete = path.removeprefix("/api/v1")
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    kind = p["schema"].get("type")
                    value = SAMPLE.get(p["name"], "1" if kind == "integer" else "agent1")
                    concrete = concrete.replace("{" + p["name"] + "}", value)
            reply = await desk.call(method.upper(), concrete, "sup", json_body={})
            assert reply.status != 500, (method, concrete, reply.text)  # 502: the fake PBX
            called.append((f"{op['tags'][0]}.{op['operationId']}", concrete, reply.status))
    assert len(called) >= 20  # the document lists the changes, not a handful
    trail = (await desk.call("GET", "/audit", "aud", params={"limit": "500"})).body["entries"]
    got = [(e["action"], e["result"]) for e in reversed(trail)]
    assert got == [(action, status) for action, _, status in called], called
