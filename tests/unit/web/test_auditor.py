"""The SLA auditor's role: it reads everything an agent's incidents, the figures and the
PBX's state, and changes nothing: every route that would change something answers 403,
whatever its body, and nothing changes."""

from __future__ import annotations

from tests.unit.web.support import Api


async def test_an_auditor_reads_every_agents_incidents_and_the_figures(api: Api) -> None:
    mine = (await api.create(who="a1"))["id"]
    theirs = (await api.create(who="a2"))["id"]
    listed = await api.call("GET", "/incidents", who="aud")
    assert listed.status == 200
    assert {i["id"] for i in listed.body["incidents"]} == {mine, theirs}
    for iid in (mine, theirs):
        assert (await api.call("GET", f"/incidents/{iid}", who="aud")).status == 200
    assert (await api.call("GET", "/incidents/figures", who="aud")).status == 200
    assert (await api.call("GET", "/incidents/at-risk", who="aud")).status == 200
    # An agent still reads only its own.
    assert (await api.call("GET", f"/incidents/{theirs}", who="a1")).status == 403
