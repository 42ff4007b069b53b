"""Parked hold and transfers on the lab, with real calls (sipp callers and agent phones).

Every call comes in on 1000 (queue ``support``, linear: agent1 first) and agent1's sipp
phone answers it; then the call-control service parks it, picks it up on agent2's
phone, lets a short park time out back to agent1, or transfers it blind or attended
to 1001 (queue ``small``, whose one member is agent2). The tracker's record of each
call says what happened: parks and park time, or the transfer and its target.

agent2's phone runs in every test that can ring it, before the call starts: a call to
a phone that is off leaves PJSIP retransmitting to that port long after the test.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from callcenter.ami import AMIClient, Message
from callcenter.calls import CallControl, NotOnCallError
from callcenter.telephony.calls import CallRecord, Outcome
from callcenter.telephony.live import LiveState
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop


@dataclass
class Desk:
    rd: RunningDaemon
    control: CallControl
    events: list[Message] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def seen(self, name: str, **headers: str) -> list[Message]:
        return [
            e
            for e in self.events
            if e.get("Event") == name and all(e.get(k) == v for k, v in headers.items())
        ]

    def finished(self, number: str) -> CallRecord | None:
        return next((c for c in self.rd.daemon.recent_calls if c.caller_num == number), None)

    def trace(self) -> str:
        keep = ("Event", "Channel", "Uniqueid", "Linkedid", "Result", "Response", "Message")
        return "\n".join(
            " ".join(f"{k}={e[k]}" for k in keep if k in e)
            + (
                f" {dict(e)}"
                if "Transfer" in e.get("Event", "") or "Park" in e.get("Event", "")
                else ""
            )
            for e in self.events
            if e.get("Event") not in ("Newexten", "VarSet", "RTCPSent", "RTCPReceived")
        )


@pytest.fixture
async def desk(running: RunningDaemon) -> AsyncIterator[Desk]:
    d = running.daemon
    desk = Desk(running, CallControl(d.client, d.live, d.cfg.agents))
    handler = d.client.on_event
    assert handler is not None

    def record(msg: Message, received: float) -> None:
        desk.events.append(msg)
        handler(msg, received)

    d.client.on_event = record
    try:
        yield desk
    finally:
        for proc in desk.procs:
            stop(proc)


def legs(desk: Desk, agent: str, state: str | None = None) -> list[str]:
    """The agent's channels in the live state (in ``state`` only, if given)."""
    return [
        c.name
        for c in desk.rd.daemon.live.channels.values()
        if c.name.startswith(f"PJSIP/{agent}-") and state in (None, c.state)
    ]


async def parked_calls(rd: RunningDaemon) -> list[Message]:
    t = rd.daemon.target
    client = AMIClient(t)
    await client.start()
    try:
        return await client.action_list("ParkedCalls")
    finally:
        await client.close()


async def answered_by(desk: Desk, agent: str, number: str, timeout: float = 10) -> None:
    def talking() -> bool:
        try:
            leg, caller = desk.control.active_call(agent)
        except NotOnCallError:
            return False
        return caller.caller_num == number and leg.state == "Up"

    await wait_for(talking, timeout, f"{agent} talking to {number}")


async def call_ends(desk: Desk, number: str, proc: subprocess.Popen[bytes]) -> CallRecord:
    await asyncio.to_thread(finish, proc, 60)
    await wait_for(lambda: desk.finished(number) is not None, 10, f"the call of {number} ended")
    record = desk.finished(number)
    assert record is not None
    return record


def phone(desk: Desk, sipp: Sipp, port: int, calls: int = 1) -> None:
    desk.procs.append(sipp.agent(port, answer_ms=300, calls=calls, timeout_s=60))


def caller(
    desk: Desk, sipp: Sipp, number: str, name: str, talk_ms: int, to: str = "1000"
) -> subprocess.Popen[bytes]:
    proc = sipp.caller(to, [(number, name)], talk_ms=talk_ms)
    desk.procs.append(proc)
    return proc


async def test_park_then_pick_up_on_another_phone(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    phone(desk, sipp, agent_ports["agent1"])
    phone(desk, sipp, agent_ports["agent2"])
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110001", "駐車 太郎", talk_ms=9000)
    await answered_by(desk, "agent1", "0311110001")

    parked = await desk.control.park("agent1")
    assert parked.slot in {str(n) for n in range(701, 721)}, parked
    assert parked.parker == "agent1"
    assert parked.timeout == 45
    listed = desk.control.parked()
    assert [(p.slot, p.caller_num, p.caller_name) for p in listed] == [
        (parked.slot, "0311110001", "駐車 太郎")
    ]
    # A resync lists the same from the ParkedCalls action. (Asked on a connection of its
    # own: the list's ParkedCall events on the daemon's connection would reach the
    # tracker, which counts every ParkedCall event as one more park.)
    snapshot = await parked_calls(desk.rd)
    fresh = LiveState()
    fresh.resync_parked(snapshot)
    assert [
        (p.slot, p.caller_num, p.caller_name, p.parker_dial, p.linkedid)
        for p in fresh.parked.values()
    ] == [(parked.slot, "0311110001", "駐車 太郎", "PJSIP/agent1", parked.linkedid)], snapshot
    assert abs(next(iter(fresh.parked.values())).parked_at - parked.parked_at) < 1.5
    await wait_for(lambda: legs(desk, "agent1") == [], 5, "agent1's leg hung up by the park")
    with pytest.raises(NotOnCallError):
        desk.control.active_call("agent1")

    await asyncio.sleep(1.0)  # the caller waits in the slot
    await desk.control.pickup("agent2", parked.slot)
    await answered_by(desk, "agent2", "0311110001")
    assert desk.control.parked() == []
    unparked = desk.seen("UnParkedCall", ParkingSpace=parked.slot)
    assert len(unparked) == 1, desk.trace()
    assert unparked[0]["RetrieverChannel"].startswith("PJSIP/agent2-")

    record = await call_ends(desk, "0311110001", proc)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 1"
    assert record.parks == 1
    assert 0.8 < record.park_seconds < 5, record
    assert record.transfers == []


async def test_park_times_out_back_to_the_parker(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    phone(desk, sipp, agent_ports["agent1"], calls=2)  # the call, then the ring-back
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110002", "時間 切子", talk_ms=10000)
    await answered_by(desk, "agent1", "0311110002")
    leg, caller_leg = desk.control.active_call("agent1")

    parked = await desk.control.park("agent1", timeout_seconds=3)
    assert parked.timeout == 3
    await wait_for(
        lambda: bool(desk.seen("ParkedCallTimeOut", ParkeeUniqueid=caller_leg.uniqueid)),
        8,
        "the park timed out",
    )
    assert desk.control.parked() == []
    # res_parking rings the parker's device back; its phone answers and talks to the caller.
    await answered_by(desk, "agent1", "0311110002")
    back, peer = desk.control.active_call("agent1")
    assert back.uniqueid != leg.uniqueid
    assert peer.uniqueid == caller_leg.uniqueid

    record = await call_ends(desk, "0311110002", proc)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 1"
    assert record.parks == 1
    assert 2.5 < record.park_seconds < 6, record


async def test_blind_transfer_to_another_queue(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    phone(desk, sipp, agent_ports["agent1"])
    phone(desk, sipp, agent_ports["agent2"])
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110003", "転送 花子", talk_ms=7000)
    await answered_by(desk, "agent1", "0311110003")

    done = await desk.control.blind_transfer("agent1", "1001")
    assert (done.kind, done.target, done.context) == ("blind", "1001", "callcenter-agents")
    await answered_by(desk, "agent2", "0311110003")
    events = desk.seen("BlindTransfer")
    assert len(events) == 1, desk.trace()
    assert events[0]["Result"] == "Success"
    assert events[0]["TransfererChannel"].startswith("PJSIP/agent1-")

    record = await call_ends(desk, "0311110003", proc)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 1"  # the agent who answered keeps the call
    assert record.queue == "support"
    assert [(t.kind, t.target) for t in record.transfers] == [("blind", "1001")]
    assert record.transfers[0].by.startswith("PJSIP/agent1-")


async def test_attended_transfer_to_the_second_line(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    desk.procs.append(sipp.agent(agent_ports["agent1"], answer_ms=1500, calls=1, timeout_s=60))
    phone(desk, sipp, agent_ports["agent2"])
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110004", "相談 次郎", talk_ms=9000)
    # The lab's PBX configuration allows it: Queue option t (the agent may transfer)
    # and the atxfer code *2 in features.conf, which the daemon's Atxfer plays.
    await wait_for(lambda: legs(desk, "agent1") != [], 5, "agent1's phone ringing")
    await answered_by(desk, "agent1", "0311110004")
    leg, caller_leg = desk.control.active_call("agent1")

    xfer = await desk.control.attended_transfer("agent1", "1001", context="from-trunk")
    asked = time.monotonic()
    # agent1 consults agent2 (the second line) while the caller waits.
    try:
        await wait_for(lambda: legs(desk, "agent2", "Up") != [], 10, "agent2 answering")
    except AssertionError:
        raise AssertionError(desk.trace()) from None
    assert time.monotonic() - asked < 2.5  # no wait for more digits
    assert legs(desk, "agent1", "Up") == [leg.name]  # the same leg now talks to agent2
    await asyncio.sleep(0.5)
    await desk.control.complete_transfer(xfer)
    await wait_for(lambda: bool(desk.seen("AttendedTransfer")), 5, "the AttendedTransfer event")
    event = desk.seen("AttendedTransfer")[0]
    assert event["Result"] == "Success", desk.trace()
    assert event["TransfereeUniqueid"] == caller_leg.uniqueid
    await wait_for(lambda: legs(desk, "agent1") == [], 5, "agent1's leg gone")
    assert caller_leg.uniqueid in desk.rd.daemon.live.channels  # the caller stays, with agent2
    assert legs(desk, "agent2", "Up") != []

    record = await call_ends(desk, "0311110004", proc)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 1"
    # The target is the party agent1 consulted: agent2 (seen as agent1's connected line).
    assert [(t.kind, t.target) for t in record.transfers] == [("attended", "agent2")], record
    assert record.transfers[0].by == leg.name


# -- from the phones and to configured targets ----------------------------------------------


async def test_the_agent_parks_with_the_park_code_and_another_dials_the_slot(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    """The feature code (#72, pressed on agent1's phone) parks the caller; agent2 dials
    the slot from its own phone. No daemon action in between: the PBX does it all and
    the daemon only watches."""
    desk.procs.append(sipp.agent(agent_ports["agent1"], answer_ms=300, keys="#72"))
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110005", "駐車 三郎", talk_ms=12000)
    await answered_by(desk, "agent1", "0311110005")
    try:
        await wait_for(lambda: desk.control.parked() != [], 8, "the call parked by #72")
    except AssertionError:
        raise AssertionError(desk.trace()) from None
    [parked] = desk.control.parked()
    assert (parked.slot, parked.lot, parked.caller_num) == ("701", "default", "0311110005")
    assert parked.parker == "agent1"
    await wait_for(lambda: legs(desk, "agent1") == [], 5, "agent1's leg ended by the park")

    await asyncio.sleep(1.0)
    dialler = sipp.caller(parked.slot, [("agent2", "Agent 2")], talk_ms=3000, source="127.0.0.1")
    desk.procs.append(dialler)
    await wait_for(lambda: desk.control.parked() == [], 8, "the slot picked up")
    unparked = desk.seen("UnParkedCall", ParkingSpace="701")
    assert len(unparked) == 1, desk.trace()
    assert unparked[0]["RetrieverChannel"].startswith("PJSIP/agent2-")
    # agent2 hangs up after 3 s; that ends the call (the caller is bridged to agent2).
    await asyncio.to_thread(finish, dialler, 30)
    await wait_for(lambda: desk.finished("0311110005") is not None, 10, "the call ended")
    record = desk.finished("0311110005")
    assert record is not None
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 1"
    assert record.parks == 1
    assert 0.8 < record.park_seconds < 6, record
    assert proc in desk.procs  # the caller's sipp (hung up on by agent2) is stopped after


async def test_a_transfer_to_the_park_extension_parks(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    phone(desk, sipp, agent_ports["agent1"])
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110006", "駐車 四郎", talk_ms=5000)
    await answered_by(desk, "agent1", "0311110006")
    await desk.rd.daemon.calls.blind_transfer("agent1", "700")
    await wait_for(lambda: desk.control.parked() != [], 5, "the call parked at 700")
    [parked] = desk.control.parked()
    assert (parked.slot, parked.caller_num) == ("701", "0311110006")
    record = await call_ends(desk, "0311110006", proc)  # the caller gives up while parked
    assert record.outcome is Outcome.ANSWERED
    assert record.parks == 1
    assert [(t.kind, t.target) for t in record.transfers] == [("blind", "700")]


async def test_attended_transfer_to_the_configured_second_line(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int], second_line_port: int
) -> None:
    """The second-line vendor, named in the config: the daemon consults it by name."""
    desk.procs.append(sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1, timeout_s=60))
    desk.procs.append(sipp.agent(second_line_port, answer_ms=800, calls=1, timeout_s=60))
    await asyncio.sleep(0.3)
    proc = caller(desk, sipp, "0311110007", "二次 五郎", talk_ms=9000)
    await answered_by(desk, "agent1", "0311110007")
    leg, caller_leg = desk.control.active_call("agent1")

    control = desk.rd.daemon.calls
    xfer = await control.attended_transfer("agent1", "second-line")
    assert (xfer.target, xfer.context) == ("8001", "callcenter-agents")

    def vendor_up() -> bool:
        return any(
            c.name.startswith("PJSIP/cc-second-line-") and c.state == "Up"
            for c in desk.rd.daemon.live.channels.values()
        )

    try:
        await wait_for(vendor_up, 10, "the second line answering the consultation")
    except AssertionError:
        raise AssertionError(desk.trace()) from None
    await control.complete_transfer(xfer)
    await wait_for(lambda: bool(desk.seen("AttendedTransfer")), 5, "the AttendedTransfer event")
    assert desk.seen("AttendedTransfer")[0]["Result"] == "Success", desk.trace()
    await wait_for(lambda: legs(desk, "agent1") == [], 5, "agent1's leg gone")
    assert caller_leg.uniqueid in desk.rd.daemon.live.channels  # now with the vendor

    record = await call_ends(desk, "0311110007", proc)
    assert record.outcome is Outcome.ANSWERED
    assert record.agent == "Agent 1"
    assert [t.kind for t in record.transfers] == ["attended"], record
    assert record.transfers[0].by == leg.name


async def test_a_menu_choice_sends_the_caller_to_the_second_line(
    desk: Desk, sipp: Sipp, second_line_port: int
) -> None:
    desk.procs.append(sipp.agent(second_line_port, answer_ms=300, calls=1, timeout_s=60))
    await asyncio.sleep(0.3)
    proc = sipp.caller("2000", [("0311110008", "案内 六子")], talk_ms=2000, keys="8")
    desk.procs.append(proc)
    record = await call_ends(desk, "0311110008", proc)
    assert record.outcome is Outcome.TRANSFERRED_OUT, record
    assert record.ivr_path == ["main:8"]
    assert [(t.kind, t.target) for t in record.transfers] == [("routed", "second-line")]
    # The vendor's phone really answered: sipp counts its call only when it got the BYE.
    finish(desk.procs[0], 30)
