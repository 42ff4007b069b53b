"""The follow-up routes and the desk's call-backs, over the real application with a fake
AMI: who may ring whose phone, the Originate sent, the results the PBX reports (as the
dialplan's stages), the agent's word, and the recall figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine

from callcenter.ami import AMIConnectionError
from callcenter.followups.desk import FollowupDesk
from callcenter.followups.settings import FollowupsConfig
from callcenter.followups.store import FollowupStore
from callcenter.incidents.store import IncidentStore
from callcenter.telephony.calls import CallRecord, Outcome
from callcenter.web.app import make_app
from callcenter.web.auth import TokenStore
from callcenter.web.deps import ApiDeps
from tests.unit.web.pbx_support import AGENTS, FakePbx, live_with, make_deps, talking_events
from tests.unit.web.support import CALENDAR, PEOPLE, Api, Clock

T = datetime(2026, 11, 18, 0, 0, tzinfo=UTC).timestamp()  # 09:00 in Tokyo
PEOPLE_HERE = {**PEOPLE, "ag1": ("agent1", "agent", "agent1"), "ag2": ("agent2", "agent", "agent2")}


@dataclass
class Desk:
    api: Api
    ami: FakePbx
    desk: FollowupDesk


def finished(linkedid: str, number: str, outcome: Outcome, at: float = 0.0) -> CallRecord:
    answered = T + at + 5 if outcome is Outcome.ANSWERED else None
    return CallRecord(
        server_id="lab",
        linkedid=linkedid,
        arrived_at=T + at,
        caller_num=number,
        caller_name="鈴木 一郎",
        queue="support",
        answered_at=answered,
        ended_at=T + at + 20,
        outcome=outcome,
    )


@pytest.fixture
async def desk(engine: Engine) -> AsyncIterator[Desk]:
    live = live_with(*talking_events())  # agent1 is on a call; agent2 is free
    ami = FakePbx(live)
    store = FollowupStore(engine)
    fdesk = FollowupDesk(store, ami, live, AGENTS, FollowupsConfig(dial="PJSIP/{number}@out"))
    clock = Clock()
    tokens = TokenStore(engine, clock=clock)
    issued = {key: tokens.create(*who)[0] for key, who in PEOPLE_HERE.items()}
    pbx = replace(make_deps(live, pbx=ami), followups=fdesk)
    deps = ApiDeps(
        incidents=IncidentStore(engine), tokens=tokens, calendar=CALENDAR, clock=clock, pbx=pbx
    )
    client = TestClient(TestServer(make_app(deps)))
    await client.start_server()
    store.call_finished(finished("c1", "03-1111-0001", Outcome.ABANDONED))
    store.call_finished(finished("c2", "0311110002", Outcome.AFTER_HOURS, 60))
    store.call_finished(finished("c3", "0311110002", Outcome.VOICEMAIL, 120))
    store.call_finished(finished("c4", "0311110003", Outcome.SHORT_ABANDONED, 180))
    try:
        yield Desk(Api(client, engine, deps.incidents, tokens, clock, issued), ami, fdesk)
    finally:
        await client.close()


async def test_the_list_open_first_waiting_longest_first(desk: Desk) -> None:
    r = await desk.api.call("GET", "/followups", who="ag1")
    assert r.status == 200, r.text
    got = [(f["caller_num"], f["reason"], f["calls"]) for f in r.body["followups"]]
    assert got == [("0311110001", "abandoned", 1), ("0311110002", "voicemail", 2)]
    assert r.body["total"] == 2
    r = await desk.api.call("GET", "/followups", who="aud", params={"reason": "voicemail"})
    assert [f["caller_num"] for f in r.body["followups"]] == ["0311110002"]
    r = await desk.api.call("GET", "/followups", params={"status": "reached"})
    assert r.body["followups"] == []
    r = await desk.api.call("GET", "/followups", params={"reason": "answered"})
    assert (r.status, r.error["field"]) == (422, "reason")
    r = await desk.api.call("GET", "/followups/999")
    assert r.status == 404


async def test_a_call_back_rings_the_agent_then_the_caller(desk: Desk) -> None:
    [first, _] = (await desk.api.call("GET", "/followups")).body["followups"]
    fid = first["id"]
    # An agent rings its own phone only; staff name the agent; auditors change nothing.
    r = await desk.api.call("POST", f"/followups/{fid}/callback", who="ag2", json_body={})
    assert r.status == 202, r.text
    assert (r.body["agent_id"], r.body["followup"]["attempts"]) == ("agent2", 1)
    action, headers = desk.ami.sent[-1]
    assert action == "Originate"
    assert headers["Channel"] == "PJSIP/agent2"
    assert (headers["Context"], headers["Exten"], headers["Priority"]) == (
        "callcenter-followup",
        "0311110001",
        "1",
    )
    assert headers["Variable"] == f"CC_ATTEMPT={r.body['attempt_id']}"
    assert headers["CallerID"] == '"鈴木 一郎" <0311110001>'
    assert headers["Async"] == "true"
    r = await desk.api.call(
        "POST", f"/followups/{fid}/callback", who="ag2", json_body={"agent_id": "agent1"}
    )
    assert r.status == 403
    r = await desk.api.call("POST", f"/followups/{fid}/callback", json_body={})
    assert (r.status, r.error["field"]) == (422, "agent_id")
    r = await desk.api.call("POST", f"/followups/{fid}/callback", json_body={"agent_id": "agent1"})
    assert r.status == 409  # agent1's phone is on a call
    r = await desk.api.call("POST", f"/followups/{fid}/callback", json_body={"agent_id": "nobody"})
    assert r.status == 404
    r = await desk.api.call("POST", f"/followups/{fid}/callback", who="aud", json_body={})
    assert r.status == 403
    assert (await desk.api.call("GET", f"/followups/{fid}")).body["followup"]["pending"] is not None


async def test_results_reported_by_the_dialplan(desk: Desk) -> None:
    stop = asyncio.Event()
    writer = asyncio.create_task(desk.desk.run(stop))
    [first, second] = (await desk.api.call("GET", "/followups")).body["followups"]
    r = await desk.api.call(
        "POST", f"/followups/{second['id']}/callback", json_body={"agent_id": "agent2"}
    )
    no_answer = r.body["attempt_id"]
    # The caller did not answer: the agent's leg ends with Dial's status.
    desk.desk.apply(
        {"Event": "UserEvent", "UserEvent": "CallCenter", "Stage": "followup_result",
         "Attempt": str(no_answer), "Status": "NOANSWER", "Timestamp": str(T + 30)},
        T + 30,
    )  # fmt: skip
    r = await desk.api.call(
        "POST", f"/followups/{first['id']}/callback", json_body={"agent_id": "agent2"}
    )
    reached = r.body["attempt_id"]
    for stage, extra in (("followup_answered", {}), ("followup_result", {"Status": "ANSWER"})):
        desk.desk.apply(
            {"Event": "UserEvent", "UserEvent": "CallCenter", "Stage": stage,
             "Attempt": str(reached), "Timestamp": str(T + 90), **extra},
            T + 90,
        )  # fmt: skip
    await asyncio.wait_for(desk.desk.idle.wait(), 5)
    stop.set()
    await writer
    one = (await desk.api.call("GET", f"/followups/{first['id']}")).body
    assert (one["followup"]["status"], one["followup"]["closed_by"]) == ("reached", "callback")
    assert one["followup"]["closed_at"] == datetime.fromtimestamp(T + 90, UTC).isoformat()
    assert [(a["result"], a["detail"]) for a in one["attempts"]] == [("reached", "ANSWER")]
    two = (await desk.api.call("GET", f"/followups/{second['id']}")).body
    assert (two["followup"]["status"], two["followup"]["last_result"]) == ("open", "no_answer")
    # The agent found it a wrong number on its next try.
    r = await desk.api.call(
        "POST", f"/followups/{second['id']}/result", who="ag2", json_body={"result": "wrong_number"}
    )
    assert r.status == 200, r.text
    assert r.body["followup"]["status"] == "wrong_number"
    assert [(a["result"], a["set_by"]) for a in r.body["attempts"]] == [
        ("no_answer", "pbx"),
        ("wrong_number", "agent2"),
    ]
    r = await desk.api.call(
        "POST", f"/followups/{second['id']}/result", json_body={"result": "no_answer"}
    )
    assert r.status == 409
    r = await desk.api.call(
        "POST", f"/followups/{second['id']}/result", json_body={"result": "cancelled"}
    )
    assert (r.status, r.error["field"]) == (422, "result")
    r = await desk.api.call(
        "GET", "/followups/recall", params={"from": "2026-11-18", "to": "2026-11-19"}
    )
    assert r.status == 200, r.text
    assert (r.body["opened"], r.body["reached"], r.body["wrong_number"]) == (2, 1, 1)
    assert (r.body["share_reached"], r.body["mean_seconds_to_reach"]) == (0.5, 90.0)
    r = await desk.api.call(
        "GET", "/followups/recall", who="ag1", params={"from": "2026-11-18", "to": "2026-11-19"}
    )
    assert r.status == 403
    r = await desk.api.call(
        "GET", "/followups/recall", params={"from": "2026-11-18", "to": "2026-11-18"}
    )
    assert (r.status, r.error["field"]) == (422, "to")


async def test_the_pbx_refusing_the_originate(desk: Desk) -> None:
    desk.ami.refuse["Originate"] = AMIConnectionError("not connected")
    [first, _] = (await desk.api.call("GET", "/followups")).body["followups"]
    r = await desk.api.call("POST", f"/followups/{first['id']}/callback", who="ag2", json_body={})
    assert (r.status, r.error["code"]) == (502, "pbx_error")
    stop = asyncio.Event()
    stop.set()
    await desk.desk.run(stop)  # writes what is queued, then stops
    one = (await desk.api.call("GET", f"/followups/{first['id']}")).body
    assert [a["result"] for a in one["attempts"]] == ["agent_missed"]
    assert one["followup"]["status"] == "open"


async def test_an_originate_response_before_the_actions_answer(desk: Desk) -> None:
    """The failure may come in the same read as the action's response."""
    [first, _] = (await desk.api.call("GET", "/followups")).body["followups"]
    desk.desk.apply({"Event": "OriginateResponse", "ActionID": "x-1", "Response": "Failure",
                     "Reason": "0"}, T)  # fmt: skip

    async def answered(action: str, headers: object = None, **_: object) -> dict[str, str]:
        return {"Response": "Success", "ActionID": "x-1"}

    desk.ami.action = answered  # type: ignore[method-assign, assignment]
    r = await desk.api.call("POST", f"/followups/{first['id']}/callback", who="ag2", json_body={})
    assert r.status == 202
    stop = asyncio.Event()
    stop.set()
    await desk.desk.run(stop)
    one = (await desk.api.call("GET", f"/followups/{first['id']}")).body
    assert [(a["result"], a["detail"]) for a in one["attempts"]] == [
        ("agent_missed", "originate reason 0")
    ]
