"""Agents log in to a queue, take a call, pause with a reason, resume and log out: on the lab.

The lab makes agent1 a static member of ``support`` and agent2 of ``support`` and
``small`` (queues.conf); Asterisk refuses to remove static members, so the dynamic
membership under test is agent1's in ``small``.

agent2's phone is not running, and agent2 is paused in ``small`` for the calls here:
a queue call that rings a phone that is off leaves PJSIP retransmitting its INVITE
(and then CANCEL) to that port for up to 32 s, long enough for the next test's phone
on agent2's port to get them and lose a call. (Unpaused, it would also cost each
call here agent2's 10 s ring timeout whenever rrmemory tries agent2 first.)

The lab is shared by the whole session: whatever happens, agent1 ends logged out of
``small`` and unpaused, and agent2 unpaused in ``small`` (the ``agents`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from callcenter.agents import (
    AgentService,
    DeviceStatus,
    Membership,
    NotInQueueError,
    StaticMemberError,
)
from callcenter.ami import AMIActionError
from callcenter.telephony.calls import CallRecord, Outcome
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop


@pytest.fixture
async def agents(running: RunningDaemon) -> AsyncIterator[AgentService]:
    d = running.daemon
    svc = AgentService(d.client, d.live, d.cfg.agents, d.cfg.queues)
    assert not svc.state("agent1").queue("small").member, "agent1 left in small by an earlier run"
    try:
        yield svc
    finally:
        # Straight through AMI, not through the code under test.
        for action, headers in (
            ("QueueRemove", {"Queue": "small", "Interface": "PJSIP/agent1"}),
            ("QueuePause", {"Interface": "PJSIP/agent1", "Paused": "false"}),
            ("QueuePause", {"Queue": "small", "Interface": "PJSIP/agent2", "Paused": "false"}),
        ):
            with contextlib.suppress(AMIActionError):  # Not there: nothing to undo
                await d.client.action(action, headers)


def finished(rd: RunningDaemon, number: str) -> CallRecord | None:
    return next((c for c in rd.daemon.recent_calls if c.caller_num == number), None)


async def test_agent_logs_in_takes_a_call_pauses_resumes_and_logs_out(
    running: RunningDaemon, agents: AgentService, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    def small() -> Membership:
        return agents.state("agent1").queue("small")

    # agent2's phone is off: keep the queue from ringing it (a static member can pause).
    await agents.pause("agent2", "phone off in this test", queue="small")
    await wait_for(lambda: agents.state("agent2").queue("small").paused, 5, "agent2 paused")

    # Log in: a dynamic member whose state follows the phone.
    assert await agents.login("agent1", ["small"]) == ("small",)
    await wait_for(lambda: small().member, 5, "agent1 in small")
    assert small() == Membership("small", True, DeviceStatus.NOT_IN_USE, False, "")
    # Again, and into support where queues.conf has it already: no error, nothing joined.
    assert await agents.login("agent1", ["small"]) == ()
    assert await agents.login("agent1") == ()

    # A call to small (1001): agent1's phone answers.
    seen: list[DeviceStatus | None] = []

    async def sample() -> None:
        while True:
            status = small().status
            if not seen or seen[-1] != status:
                seen.append(status)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    phone = sipp.agent(agent_ports["agent1"], answer_ms=800, calls=1, timeout_s=60)
    caller = None
    try:
        await asyncio.sleep(0.3)
        caller = sipp.caller("1001", [("0300000031", "山田 太郎")], talk_ms=4000)
        await wait_for(lambda: small().status is DeviceStatus.IN_USE, 5, "agent1 on the call")
        # The device, so every queue it is in, not only the one that called it.
        assert agents.state("agent1").queue("support").status is DeviceStatus.IN_USE
        await asyncio.to_thread(finish, caller, 30)
        await asyncio.to_thread(finish, phone, 10)
        await wait_for(lambda: seen[-1] is DeviceStatus.NOT_IN_USE, 5, "agent1 free again")
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        for proc in (phone, caller):
            if proc is not None:
                stop(proc)
    assert seen[:4] == [
        DeviceStatus.NOT_IN_USE,
        DeviceStatus.RINGING,
        DeviceStatus.IN_USE,
        DeviceStatus.NOT_IN_USE,
    ], seen
    await wait_for(lambda: finished(running, "0300000031") is not None, 10, "the first call")
    call = finished(running, "0300000031")
    assert call is not None
    assert (call.outcome, call.queue, call.agent) == (Outcome.ANSWERED, "small", "Agent 1")

    # Pause in small for lunch: the reason shows, support is untouched.
    await agents.pause("agent1", "lunch", queue="small")
    await wait_for(lambda: small().paused, 5, "agent1 paused in small")
    assert small() == Membership("small", True, DeviceStatus.NOT_IN_USE, True, "lunch")
    assert agents.state("agent1").queue("support").paused is False

    # A call to small now is not offered to agent1, though its phone is up (nor to agent2):
    # the caller hears the busy announcement, waits, and gives up after 6 s.
    phone = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1, timeout_s=30)
    try:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(
            finish, sipp.caller("1001", [("0300000032", "佐藤 花子")], talk_ms=6000), 30
        )
        await wait_for(lambda: finished(running, "0300000032") is not None, 10, "the 2nd call")
        assert phone.poll() is None, "agent1's phone took a call while paused"
    finally:
        stop(phone)
    call = finished(running, "0300000032")
    assert call is not None
    assert (call.outcome, call.queue, call.agent) == (Outcome.ABANDONED, "small", None)
    assert call.heard_busy  # no member of small was free to take it

    # Resume, then log out.
    await agents.resume("agent1", queue="small")
    await wait_for(lambda: not small().paused, 5, "agent1 resumed")
    assert small() == Membership("small", True, DeviceStatus.NOT_IN_USE, False, "")

    assert await agents.logout("agent1", ["small"]) == ("small",)
    await wait_for(lambda: not small().member, 5, "agent1 gone from small")
    assert small() == Membership("small", False, None)

    # What Asterisk refuses, as domain errors.
    with pytest.raises(NotInQueueError):
        await agents.logout("agent1", ["small"])
    with pytest.raises(NotInQueueError):
        await agents.pause("agent1", "lunch", queue="small")
    with pytest.raises(StaticMemberError):
        await agents.logout("agent1", ["support"])
    assert agents.state("agent1").queue("support").member


async def test_pause_in_every_queue_with_a_japanese_reason(
    running: RunningDaemon, agents: AgentService
) -> None:
    assert await agents.login("agent1", ["small"]) == ("small",)
    await wait_for(lambda: agents.state("agent1").queue("small").member, 5, "agent1 in small")

    await agents.pause("agent1", "研修 (午後)")
    await wait_for(lambda: agents.state("agent1").paused, 5, "agent1 paused everywhere")
    st = agents.state("agent1")
    assert [(m.queue, m.paused, m.reason) for m in st.queues if m.member] == [
        ("support", True, "研修 (午後)"),
        ("small", True, "研修 (午後)"),
    ]
    # The live state the daemon keeps agrees with the PBX's own view.
    listed = await running.daemon.client.action_list("QueueStatus", {"Member": "PJSIP/agent1"})
    members = {m["Queue"]: m for m in listed if m.get("Event") == "QueueMember"}
    assert {q: (m["Paused"], m["PausedReason"]) for q, m in members.items()} == {
        "support": ("1", "研修 (午後)"),
        "small": ("1", "研修 (午後)"),
    }

    await agents.resume("agent1")
    await wait_for(
        lambda: not any(m.paused for m in agents.state("agent1").queues), 5, "agent1 resumed"
    )
    # Log out of everything it can: small; support is static and stays.
    assert await agents.logout("agent1") == ("small",)
    await wait_for(lambda: not agents.state("agent1").queue("small").member, 5, "out of small")
    st = agents.state("agent1")
    assert st.queue("support") == Membership("support", True, DeviceStatus.NOT_IN_USE)
    assert st.logged_in
    assert not st.paused
