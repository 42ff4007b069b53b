"""Asterisk killed mid-call and restarted: the daemon reconnects and resyncs by itself."""

from __future__ import annotations

import asyncio

from callcenter.lab import Lab
from tests.integration.conftest import RunningDaemon, count_events, wait_for
from tests.support.sipp import Sipp, finish, stop


async def test_killed_asterisk_is_reconnected_and_resynced(
    running: RunningDaemon, sipp: Sipp, lab: Lab, agent_ports: dict[str, int]
) -> None:
    d = running.daemon
    assert d.client.connects == 1
    assert d.live.resyncs == 1
    assert set(d.live.queues) == {q.name for q in d.cfg.queues}
    assert len(d.live.queues["support"].members) == 2

    # A call in progress when Asterisk dies: no Hangup will ever be sent for it.
    agent = sipp.agent(agent_ports["agent1"], answer_ms=200, timeout_s=30)
    caller = sipp.caller("1000", [("0311112222", "佐藤 花子")], talk_ms=20000, timeout_s=30)
    try:
        await wait_for(lambda: len(d.live.channels) == 2, 15, "caller and agent channels up")
        assert {c.caller_name for c in d.live.channels.values()} >= {"佐藤 花子"}
        lab.kill()
        await wait_for(lambda: not d.client.connected.is_set(), 10, "the daemon to see the loss")
    finally:
        stop(agent)
        stop(caller)
    # Still the stale view: nothing said those channels ended.
    assert len(d.live.channels) == 2

    st = await asyncio.to_thread(lab.restart)
    await wait_for(
        lambda: d.client.connects == 2 and d.live.resyncs == 2, 20, "reconnect and resync"
    )
    # The resync replaced the stale view with the restarted server's state.
    assert d.live.channels == {}
    assert len(d.live.queues["support"].members) == 2
    assert d.live.queues["support"].entries == {}

    # The same daemon (never restarted) logs the next call in full.
    new_sipp = Sipp(st.sip_port)
    agent = new_sipp.agent(agent_ports["agent2"], answer_ms=200)
    agent1 = new_sipp.agent(agent_ports["agent1"], answer_ms=200)
    try:
        caller = new_sipp.caller("1000", [("0399998888", "鈴木 一郎")], talk_ms=1000)
        await asyncio.to_thread(finish, caller)
    finally:
        stop(agent)
        stop(agent1)
    await wait_for(
        lambda: count_events(d.engine, event="AgentComplete") >= 1,
        10,
        "the new call's AgentComplete in the log",
    )
    assert count_events(d.engine, event="FullyBooted") >= 2  # one per connection
    assert d.live.channels == {}
