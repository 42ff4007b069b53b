"""The incident endpoints over real HTTP: the lifecycle, who may do what, and the answers
for unknown ids and refused transitions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.unit.web.support import T0, Api, iso


async def test_full_lifecycle_with_each_actor_in_the_history(api: Api) -> None:
    inc = await api.create(caller_number="0312345678", caller_name="山田 太郎", agent_id="1001")
    iid = inc["id"]
    assert (inc["status"], inc["agent_id"], inc["received_at"]) == (
        "received",
        "1001",
        iso(T0),
    )
    r = await api.act(iid, "start", who="a1")
    assert r.status == 200, r.text
    assert r.body["incident"]["status"] == "in_progress"
    esc = await api.act(iid, "escalate", who="a1", to="vendor-x", note="needs the vendor")
    assert esc.body["incident"]["escalated_to"] == "vendor-x"
    assert esc.body["incident"]["escalated_by"] == "1001"
    body = json.dumps({"incident_id": iid, "note": "patched the server"})
    api.clock.tick()
    answer = await api.call(
        "POST",
        f"/second-line/incidents/{iid}/answer",
        who=None,
        data=body,
        headers=api.second_line_headers(body),
    )
    assert answer.status == 200, answer.text
    assert answer.body["incident"]["status"] == "escalation_answered"
    prog = await api.act(iid, "progress", who="a1", how="phone", note="told the caller")
    assert prog.body["incident"]["first_progress_at"] is not None
    res = await api.act(iid, "resolve", who="a1", note="works again")
    assert res.body["incident"]["resolution"] == "second_line"
    closed = await api.act(iid, "close", who="sup")
    assert closed.status == 200
    assert closed.body["incident"]["closed_at"] == iso(api.clock())

    got = await api.call("GET", f"/incidents/{iid}", who="a1")
    assert got.status == 200
    assert got.body["incident"]["status"] == "closed"
    steps = [(h["action"], h["actor"], h["note"]) for h in got.body["history"]]
    assert steps == [
        ("created", "suzuki", ""),
        ("started", "1001", ""),
        ("escalated", "1001", "needs the vendor"),
        ("escalation_answered", "second-line", "patched the server"),
        ("progress_reported", "1001", "told the caller"),
        ("resolved", "1001", "works again"),
        ("closed", "suzuki", ""),
    ]
    assert got.body["history"][1]["changes"] == {"status": ["received", "in_progress"]}


async def test_reopen_and_update_after_closing(api: Api) -> None:
    iid = (await api.create(agent_id="1001"))["id"]
    await api.act(iid, "resolve", who="a1")
    reopened = await api.act(iid, "reopen", who="a1", note="still broken")
    assert reopened.body["incident"]["status"] == "in_progress"
    assert reopened.body["incident"]["resolved_at"] is None
    await api.act(iid, "resolve", who="a1", resolution="first_line")
    await api.act(iid, "close", who="a1")
    api.clock.tick()
    patched = await api.call(
        "PATCH",
        f"/incidents/{iid}",
        who="admin",
        json_body={"flags": ["technical_investigation"], "priority": "high", "note": "wrong flag"},
    )
    assert patched.status == 200, patched.text
    assert patched.body["incident"]["flags"] == ["technical_investigation"]
    history = (await api.call("GET", f"/incidents/{iid}")).body["history"]
    assert history[-1] == {
        "at": iso(api.clock()),
        "actor": "ops-admin",
        "action": "updated",
        "changes": {"flags": [[], ["technical_investigation"]], "priority": ["normal", "high"]},
        "note": "wrong flag",
    }


async def test_update_every_field(api: Api) -> None:
    # The agent's own incident (issue 11: an agent links only to incidents it may read).
    first = (await api.create(agent_id="1001"))["id"]
    iid = (await api.create(category="network", agent_id="1001"))["id"]
    reply = await api.call(
        "PATCH",
        f"/incidents/{iid}",
        who="a1",
        json_body={
            "category": None,
            "notes": "called twice",
            "related_incident_id": first,
            "priority": "urgent",
            "flags": ["caller_set_contact_time", "caller_set_contact_time"],
        },
    )
    assert reply.status == 200, reply.text
    inc = reply.body["incident"]
    assert (inc["category"], inc["notes"], inc["related_incident_id"]) == (
        None,
        "called twice",
        first,
    )
    assert (inc["priority"], inc["flags"]) == ("urgent", ["caller_set_contact_time"])


async def test_create_by_hand_with_every_field(api: Api) -> None:
    first = await api.create()
    earlier = (T0 - timedelta(hours=1)).isoformat()
    reply = await api.call(
        "POST",
        "/incidents",
        json_body={
            "received_at": earlier,
            "caller_number": "0312345678",
            "caller_name": "山田 太郎",
            "queue": "support",
            "agent": "Tanaka",
            "agent_id": "1001",
            "category": "mail",
            "priority": "low",
            "flags": ["vendor_investigation"],
            "notes": "from an e-mail",
            "related_incident_id": first["id"],
        },
    )
    assert reply.status == 201, reply.text
    inc = reply.body["incident"]
    assert reply.headers["Location"] == f"/api/v1/incidents/{inc['id']}"
    assert inc["received_at"] == "2026-11-18T00:00:00+00:00"  # the same instant, in UTC
    again = await api.call("GET", f"/incidents/{inc['id']}")
    assert again.body["incident"]["received_at"] == "2026-11-18T00:00:00+00:00"
    assert inc["caller_name"] == "山田 太郎"
    assert "山田 太郎" in reply.text  # readable, not \\u escapes
    assert (inc["queue"], inc["priority"], inc["flags"]) == (
        "support",
        "low",
        ["vendor_investigation"],
    )
    assert inc["related_incident_id"] == first["id"]
    assert inc["call_linkedid"] is None


async def test_an_agent_opens_incidents_only_for_itself(api: Api) -> None:
    own = await api.create(who="a1", caller_number="0300000000")
    assert own["agent_id"] == "1001"
    history = (await api.call("GET", f"/incidents/{own['id']}", who="a1")).body["history"]
    assert history[0]["actor"] == "1001"
    assert (await api.create(who="a1", agent_id="1001"))["agent_id"] == "1001"
    reply = await api.call("POST", "/incidents", who="a1", json_body={"agent_id": "1002"})
    assert reply.status == 403
    assert reply.error["code"] == "forbidden"


async def test_agents_act_only_on_their_own_incidents(api: Api) -> None:
    iid = (await api.create(agent_id="1001"))["id"]
    unowned = (await api.create())["id"]
    for target in (iid, unowned):
        for method, path, body in [
            ("GET", "", None),
            ("PATCH", "", {"priority": "high"}),
            ("POST", "/start", {}),
            ("POST", "/escalate", {"to": "vendor"}),
            ("POST", "/escalation-answer", {}),
            ("POST", "/progress", {"how": "phone"}),
            ("POST", "/resolve", {}),
            ("POST", "/close", {}),
            ("POST", "/reopen", {}),
        ]:
            reply = await api.call(method, f"/incidents/{target}{path}", who="a2", json_body=body)
            assert reply.status == 403, (target, path, reply.text)
            assert reply.error["code"] == "forbidden"
    # Nothing was changed by the refused calls.
    history = (await api.call("GET", f"/incidents/{iid}")).body["history"]
    assert [h["action"] for h in history] == ["created"]
    # Supervisors and admins act on anyone's.
    assert (await api.act(iid, "start", who="admin")).status == 200
    assert (await api.act(unowned, "start", who="sup")).status == 200


async def test_list_filters_and_agents_see_their_own(api: Api) -> None:
    a = await api.create(agent_id="1001", caller_number="0311111111", queue="support")
    api.clock.tick(60 * 24)  # the next day
    b = await api.create(agent_id="1002", caller_number="0322222222", queue="sales")
    c = await api.create(agent_id="1001", caller_number="0311111111", queue="support")
    await api.act(c["id"], "resolve", who="a1")

    async def ids(who: str = "sup", **params: str) -> list[int]:
        reply = await api.call("GET", "/incidents", who=who, params=params)
        assert reply.status == 200, reply.text
        return [i["id"] for i in reply.body["incidents"]]

    assert await ids() == [c["id"], b["id"], a["id"]]  # newest received first
    assert await ids("a1") == [c["id"], a["id"]]
    assert await ids("a1", agent_id="1001") == [c["id"], a["id"]]
    assert await ids("a2") == [b["id"]]
    assert await ids(agent_id="1002") == [b["id"]]
    assert await ids(status="resolved") == [c["id"]]
    assert await ids(status="received,resolved") == [c["id"], b["id"], a["id"]]
    assert await ids(open="true") == [b["id"], a["id"]]
    assert await ids(caller_number="0311111111") == [c["id"], a["id"]]
    assert await ids(queue="sales") == [b["id"]]
    assert await ids(**{"from": "2026-11-19"}) == [c["id"], b["id"]]
    assert await ids(**{"from": "2026-11-18", "to": "2026-11-19"}) == [a["id"]]
    assert await ids(limit="1", offset="1") == [b["id"]]
    repeated = await api.call(
        "GET", "/incidents", params=[("status", "received"), ("status", "resolved")]
    )
    assert len(repeated.body["incidents"]) == 3
    reply = await api.call("GET", "/incidents", who="a2", params={"agent_id": "1001"})
    assert reply.status == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/incidents/999", None),
        ("PATCH", "/incidents/999", {"priority": "high"}),
        ("POST", "/incidents/999/start", None),
        ("POST", "/incidents/999/escalate", {"to": "vendor"}),
        ("POST", "/incidents/999/escalation-answer", None),
        ("POST", "/incidents/999/progress", {"how": "email"}),
        ("POST", "/incidents/999/resolve", None),
        ("POST", "/incidents/999/close", None),
        ("POST", "/incidents/999/reopen", None),
        ("POST", "/incidents/999/surveys", {"answers": [5]}),
    ],
)
async def test_unknown_ids_are_404(api: Api, method: str, path: str, body: object) -> None:
    reply = await api.call(method, path, json_body=body)
    assert reply.status == 404
    assert reply.error == {"code": "not_found", "message": "incident 999 does not exist"}


@pytest.mark.parametrize(
    ("setup", "action", "body", "message"),
    [
        ([], "close", {}, "status: cannot close a received incident: resolve it first"),
        (
            [],
            "escalation-answer",
            {},
            "status: cannot record an escalation answer for a received incident",
        ),
        (["start"], "start", {}, "status: cannot start an in-progress incident"),
        (["resolve"], "resolve", {}, "status: cannot resolve a resolved incident"),
        (
            ["resolve", "close"],
            "progress",
            {"how": "phone"},
            "status: cannot report progress on a closed incident",
        ),
        (
            [],
            "reopen",
            {},
            "status: cannot reopen a received incident (only resolved ones can be reopened)",
        ),
    ],
)
async def test_refused_transitions_are_409(
    api: Api, setup: list[str], action: str, body: dict[str, str], message: str
) -> None:
    iid = (await api.create())["id"]
    for step in setup:
        assert (await api.act(iid, step)).status == 200
    reply = await api.act(iid, action, **body)
    assert reply.status == 409
    assert reply.error == {"code": "conflict", "field": "status", "message": message}


async def test_one_escalation_per_incident(api: Api) -> None:
    iid = (await api.create())["id"]
    await api.act(iid, "escalate", to="vendor")
    await api.act(iid, "resolve")
    await api.act(iid, "reopen")
    reply = await api.act(iid, "escalate", to="vendor")
    assert reply.status == 409
    assert reply.error["field"] == "status"
    assert "already escalated" in reply.error["message"]


async def test_value_refusals_from_the_lifecycle_are_422(api: Api) -> None:
    iid = (await api.create())["id"]
    reply = await api.act(iid, "resolve", resolution="second_line")
    assert reply.status == 422
    assert reply.error == {
        "code": "invalid",
        "field": "resolution",
        "message": "resolution: second_line needs an escalation first",
    }
    future = (api.clock() + timedelta(hours=1)).isoformat()
    reply = await api.call("POST", "/incidents", json_body={"received_at": future})
    assert (reply.status, reply.error["field"]) == (422, "received_at")
    reply = await api.call("PATCH", f"/incidents/{iid}", json_body={"related_incident_id": iid})
    assert (reply.status, reply.error["field"]) == (422, "related_incident_id")


async def test_an_agent_links_only_to_incidents_it_may_read(api: Api) -> None:
    """Issue 11: 201 against 422 told an agent whether any incident id existed. Now an
    agent's link to another agent's incident, an unassigned one and an unknown id get
    the very same answer; its own incidents link as before, and staff link to any."""
    own = (await api.create(agent_id="1001"))["id"]
    theirs = (await api.create(agent_id="1002"))["id"]
    unassigned = (await api.create())["id"]
    unknown = theirs + 1000
    mine = (await api.create(agent_id="1001"))["id"]

    refusals = []
    for target in (theirs, unassigned, unknown):
        created = await api.call(
            "POST", "/incidents", who="a1", json_body={"related_incident_id": target}
        )
        patched = await api.call(
            "PATCH", f"/incidents/{mine}", who="a1", json_body={"related_incident_id": target}
        )
        refusals += [(created.status, created.body), (patched.status, patched.body)]
    assert refusals == [(422, {"error": {
        "code": "invalid",
        "message": "related_incident_id: not an incident of yours "
                   "(an agent links only to its own incidents)",
        "field": "related_incident_id",
    }})] * 6  # fmt: skip
    assert len({(r.text, r.status) for r in api.replies[-6:]}) == 1  # byte for byte
    listed = (await api.call("GET", "/incidents", who="a1")).body["incidents"]
    assert sorted(i["id"] for i in listed) == [own, mine]  # no incident was opened
    assert (await api.call("GET", f"/incidents/{mine}")).body["incident"][
        "related_incident_id"
    ] is None

    linked = await api.call("POST", "/incidents", who="a1", json_body={"related_incident_id": own})
    assert linked.status == 201
    assert linked.body["incident"]["related_incident_id"] == own
    patched = await api.call(
        "PATCH", f"/incidents/{mine}", who="a1", json_body={"related_incident_id": own}
    )
    assert patched.status == 200
    for who in ("sup", "admin"):
        by_staff = await api.call(
            "POST", "/incidents", who=who, json_body={"related_incident_id": theirs}
        )
        assert by_staff.status == 201
        missing = await api.call(
            "POST", "/incidents", who=who, json_body={"related_incident_id": unknown}
        )
        assert (missing.status, missing.error["message"]) == (
            422,
            f"related_incident_id: incident {unknown} does not exist",
        )


async def test_an_action_at_a_time_before_the_last_one_is_refused(api: Api) -> None:
    iid = (await api.create())["id"]
    api.clock.tick(-30)  # the server's clock went back
    reply = await api.call("POST", f"/incidents/{iid}/start", json_body={})
    assert reply.status == 422
    assert reply.error["field"] == "at"
