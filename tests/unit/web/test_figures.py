"""The month's figures, what is at risk now, and form surveys, through the API.

The clock starts Wed 2026-11-18 10:00 JST, inside service hours, so business time
between actions is plain wall time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.web.support import T0, Api, iso


async def test_the_five_figures_of_a_month(api: Api) -> None:
    solved = (await api.create(agent_id="1001"))["id"]
    held = (await api.create(agent_id="1002"))["id"]
    api.clock.tick(4)
    await api.act(held, "escalate", who="a2", to="vendor")  # 5 min after arrival
    api.clock.tick(4)
    await api.act(solved, "resolve", who="a1")  # 10 min after arrival
    reply = await api.call("POST", f"/incidents/{solved}/surveys", json_body={"answers": [5, 3]})
    assert reply.status == 201
    # Another month's incident does not count in November.
    await api.call("POST", "/incidents", json_body={"received_at": "2026-10-30T10:00:00+09:00"})

    reply = await api.call("GET", "/incidents/figures", params={"month": "2026-11"})
    assert reply.status == 200, reply.text
    assert reply.body == {
        "month": "2026-11",
        "start": "2026-11-01T00:00:00+09:00",
        "end": "2026-12-01T00:00:00+09:00",
        "incidents": 2,
        "unresolved": 1,
        "first_contact_resolution": {"value": 0.5, "count": 2, "target": 0.9, "met": False},
        "handling_seconds": {"value": 600.0, "count": 1, "target": 1800.0, "met": True},
        "escalation_seconds": {"value": 300.0, "count": 1, "target": 600.0, "met": True},
        "progress_seconds": {"value": None, "count": 0, "target": 1800.0, "met": None},
        "satisfaction": {"value": 80.0, "count": 1, "target": 75.0, "met": True},
    }
    october = (await api.call("GET", "/incidents/figures", params={"month": "2026-10"})).body
    assert (october["incidents"], october["satisfaction"]["count"]) == (1, 0)
    current = (await api.call("GET", "/incidents/figures", who="admin")).body
    assert current["month"] == "2026-11"  # by default, the month it is now


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "11-2026", "2026-00", ""])
async def test_a_bad_month_is_422(api: Api, month: str) -> None:
    reply = await api.call("GET", "/incidents/figures", params={"month": month})
    assert (reply.status, reply.error["field"]) == (422, "month")


async def test_figures_at_risk_and_surveys_are_for_supervisors(api: Api) -> None:
    iid = (await api.create(who="a1"))["id"]
    readers = "supervisor, admin or auditor"  # issue 12: auditors read the figures too
    for method, path, body, roles in [
        ("GET", "/incidents/figures", None, readers),
        ("GET", "/incidents/at-risk", None, readers),
        ("POST", f"/incidents/{iid}/surveys", {"answers": [5]}, "supervisor or admin"),
    ]:
        reply = await api.call(method, path, who="a1", json_body=body)
        assert reply.status == 403, path
        assert reply.error["code"] == "forbidden"
        assert reply.error["message"] == f"this needs the role {roles} (you are agent)"
    assert (await api.call("GET", "/incidents/at-risk", who="admin")).status == 200


async def test_at_risk_lists_the_most_urgent_first(api: Api) -> None:
    late = (await api.create(agent_id="1001"))["id"]
    api.clock.tick(10)
    escalated = (await api.create(agent_id="1002"))["id"]
    await api.act(escalated, "escalate", to="vendor")
    api.clock.tick(9)
    fresh = (await api.create())["id"]
    assert fresh
    api.clock.at = T0 + timedelta(minutes=40)
    reply = await api.call("GET", "/incidents/at-risk")
    assert reply.status == 200
    assert reply.body["at"] == iso(api.clock())
    risks = [
        (r["incident_id"], r["figure"], r["state"], r["elapsed_seconds"])
        for r in reply.body["risks"]
    ]
    # late: 40 min of handling (> 30); escalated: 30 min with no progress report (>= 80%
    # of 30), its handling clock held since the escalation; fresh: 20 min, under 80%.
    assert risks == [
        (late, "handling_seconds", "breached", 2400.0),
        (escalated, "progress_seconds", "at_risk", 1800.0),
    ]
    assert reply.body["risks"][0]["incident"]["agent_id"] == "1001"
    assert reply.body["risks"][0]["urgency"] == pytest.approx(2400 / 1800)
    assert (await api.call("GET", "/incidents/at-risk", params={"x": "1"})).status == 422


async def test_a_survey_from_a_form(api: Api) -> None:
    iid = (await api.create(caller_number="0312345678"))["id"]
    reply = await api.call("POST", f"/incidents/{iid}/surveys", json_body={"answers": [4]})
    assert reply.status == 201
    assert reply.body["survey"] == {
        "respondent": "0312345678",  # the caller, unless named
        "incident_id": iid,
        "answers": [4],
        "at": iso(api.clock()),
    }
    again = await api.call("POST", f"/incidents/{iid}/surveys", json_body={"answers": [4]})
    assert again.status == 409  # the same respondent at the same time: stored once
    named = await api.call(
        "POST",
        f"/incidents/{iid}/surveys",
        who="admin",
        json_body={"answers": [1, 2], "respondent": "yamada@example.jp"},
    )
    assert named.body["survey"]["respondent"] == "yamada@example.jp"
    assert len(api.store.surveys()) == 2
