"""Incidents on the lab: every answered call opens exactly one, with the call's facts;
the AMI link dropping mid-call does not open a second one (nor miss one answered while
the daemon was blind); and the caller's survey key after the agent hangs up lands on it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import aiohttp
import pytest
from sqlalchemy import func, select

from callcenter.daemon import AMITarget, Daemon
from callcenter.incidents.store import INCIDENTS
from callcenter.lab import LabState
from callcenter.telephony.calls import Outcome
from callcenter.web.serve import http_of, serve
from callcenter.webhooks.settings import WebhookSettings
from callcenter.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.integration.conftest import RunningDaemon, finished_call, wait_for
from tests.support.sipp import Sipp, finish, stop
from tests.support.tcpproxy import CuttableProxy
from tests.unit.webhooks.support import DROP, FAIL, SECRET, Receiver


def incidents_of(daemon: Daemon, linkedid: str) -> int:
    with daemon.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(INCIDENTS)
                .where(INCIDENTS.c.call_linkedid == linkedid)
            ).scalar_one()
        )


async def test_an_answered_call_opens_one_incident_and_the_survey_lands_on_it(
    running: RunningDaemon, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    d = running.daemon
    # agent2 answers the survey queue's call and hangs up 1.5 s later; the caller then
    # hears the survey question and presses 4 (ほぼ満足).
    agent = sipp.agent(agent_ports["agent2"], answer_ms=300, hangup_after_ms=1500)
    caller = sipp.caller("1004", [("0311112001", "満足 花子")], talk_ms=3000, keys="4",
                         key_delay_ms=4000)  # fmt: skip
    try:
        await asyncio.to_thread(finish, agent, 30)  # the agent's side went as scripted
        record = await finished_call(running, "0311112001", timeout=20)
    finally:
        stop(agent)
        stop(caller)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 2"
    assert d.incidents is not None

    store = d.incident_store
    await wait_for(lambda: d.incidents is not None and d.incidents.pending == 0, 10, "stored")
    incident = store.find_by_call(d.cfg.server.id, record.linkedid)
    assert incident is not None, "no incident for the answered call"
    assert incidents_of(d, record.linkedid) == 1
    assert (incident.caller_number, incident.caller_name) == ("0311112001", "満足 花子")
    assert (incident.queue, incident.agent, incident.agent_id) == ("svq", "Agent 2", "agent2")
    assert incident.status == "received"
    assert record.answered_at is not None
    assert abs(incident.received_at.timestamp() - record.arrived_at) < 0.001
    assert incident.answered_at is not None
    assert abs(incident.answered_at.timestamp() - record.answered_at) < 0.001
    history = store.history(incident.id or 0)
    assert [(h.action, h.actor) for h in history] == [("created", "system")]

    surveys = store.surveys_of([incident.id or 0])
    assert [(s.respondent, s.answers) for s in surveys] == [("0311112001", (4,))]
    # The survey came after the agent hung up, before the caller's line was released.
    assert record.ended_at is not None
    assert record.answered_at < surveys[0].at.timestamp() <= record.ended_at + 0.5

    # A replay of the answer (a resync finding the call again) opens nothing new.
    d.incidents.call_answered(record)
    await wait_for(lambda: d.incidents is not None and d.incidents.pending == 0, 5, "replayed")
    assert incidents_of(d, record.linkedid) == 1


async def test_one_incident_per_call_across_an_ami_cut(
    daemon_factory: Callable[..., Daemon],
    lab_state: LabState,
    sipp: Sipp,
    agent_ports: dict[str, int],
) -> None:
    """Call 1 is answered before the cut and goes on through it; call 2 is answered
    while the daemon is blind and found at the resync. One incident each."""
    proxy = CuttableProxy(lab_state.ami_port)
    await proxy.start()
    via_proxy = AMITarget("127.0.0.1", proxy.port, lab_state.ami_username, lab_state.ami_secret)
    daemon = daemon_factory(target=via_proxy)
    rd = RunningDaemon(daemon)
    await rd.start()
    agents = [sipp.agent(agent_ports[a], answer_ms=300, calls=1) for a in ("agent1", "agent2")]
    callers = []
    try:
        callers.append(sipp.caller("1000", [("0311112101", "切断 一郎")], talk_ms=7000))
        await wait_for(
            lambda: any(c.answered_at for c in daemon.tracker.calls.values()), 10, "call 1 answered"
        )
        await wait_for(lambda: daemon.incidents is not None and bool(daemon.incidents.opened),
                       5, "call 1's incident")  # fmt: skip
        await proxy.cut()
        await wait_for(lambda: not daemon.client.connected.is_set(), 5, "the daemon to notice")
        callers.append(sipp.caller("1000", [("0311112102", "切断 二郎")], talk_ms=6000))
        await asyncio.sleep(1.5)  # call 2 is answered by agent2 meanwhile
        await proxy.restore()
        await wait_for(
            lambda: daemon.client.connects == 2 and daemon.live.resyncs == 2,
            20,
            "reconnect and resync",
        )
        for proc in callers:
            await asyncio.to_thread(finish, proc, 30)
        await wait_for(lambda: len(daemon.recent_calls) == 2, 10, "both calls finished")
        await wait_for(lambda: daemon.incidents is not None and daemon.incidents.pending == 0,
                       10, "incidents stored")  # fmt: skip
    finally:
        for proc in [*agents, *callers]:
            stop(proc)
        await rd.shutdown()
        await proxy.close()

    by_num = {c.caller_num: c for c in daemon.recent_calls}
    for number, agent in (("0311112101", "agent1"), ("0311112102", "agent2")):
        call = by_num[number]
        assert call.outcome is Outcome.ANSWERED
        assert incidents_of(daemon, call.linkedid) == 1, number
        incident = daemon.incident_store.find_by_call(daemon.cfg.server.id, call.linkedid)
        assert incident is not None
        assert (incident.caller_number, incident.agent_id) == (number, agent)
    with daemon.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(INCIDENTS)).scalar_one() == 2


async def test_the_desk_works_the_incident_through_the_daemons_api(
    daemon_factory: Callable[..., Daemon],
    sipp: Sipp,
    agent_ports: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real call opens the incident; agent1 works it through the daemon's HTTP API
    (agent2 may not); the second line answers with a signed post; the external ticket
    system's webhook receiver fails twice and still gets every event, once each."""
    receiver = await Receiver(script={"hook": [FAIL, DROP]}).start()
    monkeypatch.setenv("CALLCENTER_SECOND_LINE_SECRET", "second-line-secret")
    base = daemon_factory()
    cfg = base.cfg.model_copy(
        update={
            "webhooks": WebhookSettings(
                urls=(receiver.url("hook"),), secret=SECRET, retry_min=0.1, retry_max=0.3
            )
        }
    )
    base.engine.dispose()
    daemon = serve(Daemon(cfg, base.target))
    rd = RunningDaemon(daemon)
    await rd.start()
    tokens = {
        who: http_of(daemon).tokens.create(who, "agent", who)[0] for who in ("agent1", "agent2")
    }
    agent = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1)
    try:
        await asyncio.to_thread(
            finish, sipp.caller("1000", [("0311112201", "画面 四郎")], talk_ms=1500), 30
        )
        record = await finished_call(rd, "0311112201")
        await wait_for(lambda: daemon.incidents is not None and daemon.incidents.pending == 0,
                       10, "stored")  # fmt: skip
        assert http_of(daemon).port is not None
        api = f"http://127.0.0.1:{http_of(daemon).port}/api/v1"

        def auth(who: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[who]}"}

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api}/incidents", headers=auth("agent1")) as r:
                assert r.status == 200
                listed = (await r.json())["incidents"]
            [mine] = [i for i in listed if i["call_linkedid"] == record.linkedid]
            assert (mine["caller_name"], mine["agent_id"]) == ("画面 四郎", "agent1")
            iid = mine["id"]
            async with http.get(f"{api}/incidents/{iid}", headers=auth("agent2")) as r:
                assert r.status == 403  # not agent2's call
            async with http.post(
                f"{api}/incidents/{iid}/escalate",
                json={"to": "second-line"},
                headers=auth("agent1"),
            ) as r:
                assert r.status == 200, await r.text()
            async with http.post(
                f"{api}/incidents/{iid}/progress", json={"how": "sms"}, headers=auth("agent1")
            ) as r:
                assert r.status == 422
                assert (await r.json())["error"]["field"] == "how"
            body = json.dumps({"incident_id": iid, "note": "設定を修正しました"}).encode()
            ts = int(time.time())
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(ts),
                SIGNATURE_HEADER: sign("second-line-secret", ts, body),
            }
            async with http.post(
                f"{api}/second-line/incidents/{iid}/answer", data=body, headers=headers
            ) as r:
                assert r.status == 200, await r.text()
            async with http.post(
                f"{api}/incidents/{iid}/resolve", json={}, headers=auth("agent1")
            ) as r:
                assert r.status == 200
                assert (await r.json())["incident"]["resolution"] == "second_line"
            async with http.get(f"{api}/incidents/{iid}", headers=auth("agent1")) as r:
                history = (await r.json())["history"]
        assert [(h["action"], h["actor"]) for h in history] == [
            ("created", "system"),
            ("escalated", "agent1"),
            ("escalation_answered", "second-line"),
            ("resolved", "agent1"),
        ]

        def delivered() -> list[str]:
            return [json.loads(x.body)["event"] for x in receiver.accepted("hook")]

        await wait_for(lambda: len(delivered()) == 3, 15, "three webhooks delivered")
        assert delivered() == ["incident.created", "incident.escalated", "incident.resolved"]
        first = receiver.on("hook")[:3]  # failed, dropped, then accepted: one delivery id
        assert [x.action for x in first] == [FAIL, DROP, "ok"]
        assert len({x.delivery_id for x in first}) == 1
        assert all(x.signature_ok() for x in receiver.accepted("hook"))
    finally:
        stop(agent)
        await rd.shutdown()
        await receiver.stop()
