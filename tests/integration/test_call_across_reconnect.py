"""Calls that span a cut of the AMI connection are completed correctly from the resync."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from callcenter.daemon import AMITarget, Daemon
from callcenter.lab import LabState
from callcenter.telephony.calls import Outcome
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop
from tests.support.tcpproxy import CuttableProxy


async def test_calls_spanning_a_network_cut(
    daemon_factory: Callable[..., Daemon],
    lab_state: LabState,
    sipp: Sipp,
    agent_ports: dict[str, int],
) -> None:
    proxy = CuttableProxy(lab_state.ami_port)
    await proxy.start()
    # The daemon reaches AMI through the cuttable link.
    via_proxy = AMITarget("127.0.0.1", proxy.port, lab_state.ami_username, lab_state.ami_secret)
    daemon = daemon_factory(target=via_proxy)
    rd = RunningDaemon(daemon)
    await rd.start()
    agent1 = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1)
    agent2 = sipp.agent(agent_ports["agent2"], answer_ms=300, calls=1)
    callers = []
    try:
        # Call 1 is answered before the cut and ends after it.
        callers.append(sipp.caller("1000", [("0311110001", "山田 太郎")], talk_ms=7000))
        await wait_for(
            lambda: any(c.answered_at for c in daemon.tracker.calls.values()), 10, "call 1 answered"
        )
        await proxy.cut()
        await wait_for(lambda: not daemon.client.connected.is_set(), 5, "the daemon to notice")
        # Call 2 arrives while the daemon is blind, and is still there at the resync.
        callers.append(sipp.caller("1000", [("0311110002", "佐藤 花子")], talk_ms=6000))
        await asyncio.sleep(1.5)
        await proxy.restore()
        await wait_for(
            lambda: daemon.client.connects == 2 and daemon.live.resyncs == 2,
            20,
            "reconnect and resync",
        )
        assert len(daemon.tracker.calls) == 2  # call 1 kept, call 2 opened from the snapshot
        for proc in callers:
            await asyncio.to_thread(finish, proc, 30)
        await wait_for(lambda: len(daemon.recent_calls) == 2, 10, "both calls finished")
    finally:
        for proc in [agent1, agent2, *callers]:
            stop(proc)
        await rd.shutdown()
        await proxy.close()

    by_num = {c.caller_num: c for c in daemon.recent_calls}
    one, two = by_num["0311110001"], by_num["0311110002"]
    # Call 1: every event of its start and end was seen; only the middle was missed.
    assert one.outcome is Outcome.ANSWERED
    assert one.estimated is False
    assert one.agent == "Agent 1"
    handle = one.handle_seconds
    assert handle is not None
    assert 5 < handle < 8
    # Call 2: opened from CoreShowChannels/QueueStatus; its arrival is estimated from the
    # channel's age, and it was answered by the agent who was free.
    assert two.outcome is Outcome.ANSWERED
    assert two.estimated is True
    assert two.caller_name == "佐藤 花子"
    assert two.agent == "Agent 2"
    assert two.ended_at is not None
    assert two.ended_at - two.arrived_at > 4
