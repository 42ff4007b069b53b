"""CallControl: checks before any AMI action, the actions Asterisk 16 needs, errors wrapped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from callcenter.ami import AMIActionError, AMIConnectionError, AMIError, Message
from callcenter.ami.protocol import HeaderValue, encode_action
from callcenter.calls import (
    AgentBusyError,
    CallControl,
    InvalidDestinationError,
    NotOnCallError,
    Parked,
    PBXError,
    Transfer,
    UnknownAgentError,
    UnknownSlotError,
)
from callcenter.telephony.live import LiveState
from tests.unit.calls.events import (
    AGENT1_LEG,
    AGENT1_UID,
    AGENT2_LEG,
    AGENTS,
    CALLER,
    CALLER_UID,
    T0,
    agent2_pickup_leg,
    answered_call,
    hangup,
    newchannel,
    parked_call,
    unparked_call,
)

Sent = tuple[str, dict[str, str]]


class FakeClient:
    """Records each action; answers Success, raises as told, and can play the PBX's events."""

    def __init__(self, live: LiveState) -> None:
        self.live = live
        self.sent: list[Sent] = []
        self.refuse: dict[str, str | AMIError] = {}  # action -> Asterisk's message, or error
        self.then: dict[str, Callable[[dict[str, str]], list[dict[str, str]]]] = {}

    async def action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        h = {k: str(v) for k, v in (headers or {}).items()}
        self.sent.append((action, h))
        answer = self.refuse.get(action)
        if isinstance(answer, AMIError):
            raise answer
        if answer is not None:
            raise AMIActionError(action, answer)
        play_events = self.then.get(action)
        for ev in play_events(h) if play_events is not None else []:
            self.live.apply(ev)
        return Message(Response="Success", Message="ok")


@pytest.fixture
def live() -> LiveState:
    return LiveState()


@pytest.fixture
def client(live: LiveState) -> FakeClient:
    c = FakeClient(live)
    # Asterisk parks the caller and reports its slot in a ParkedCall event.
    c.then["Park"] = lambda h: [
        parked_call("701", timeout=int(h.get("Timeout", "45000")) // 1000),
        hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID),
    ]
    return c


@pytest.fixture
def control(client: FakeClient, live: LiveState) -> CallControl:
    return CallControl(client, live, AGENTS, park_confirm_seconds=0.2)


def play(live: LiveState, *events: dict[str, str]) -> None:
    for ev in events:
        live.apply(ev)


# -- finding the agent's call ------------------------------------------------------------


def test_the_active_call_is_the_agents_leg_and_the_caller(
    control: CallControl, live: LiveState
) -> None:
    play(live, *answered_call())
    leg, caller = control.active_call("agent1")
    assert (leg.name, caller.name) == (AGENT1_LEG, CALLER)


def test_the_newest_answered_leg_wins(control: CallControl, live: LiveState) -> None:
    # Uniqueids order by number, not as text: .10 is newer than .9.
    play(live, *answered_call())
    for uid in ("cclab-1795411410.9", "cclab-1795411410.10"):
        name = f"PJSIP/agent1-{uid[-2:]}"
        play(live, newchannel(name, uid, CALLER_UID, "agent1", "Agent 1", "from-agents", "s"))
        live.channels[uid].state = "Up"
    leg, _ = control.active_call("agent1")
    assert leg.uniqueid == "cclab-1795411410.10"


def test_a_ringing_leg_is_not_a_call(control: CallControl, live: LiveState) -> None:
    play(live, *answered_call()[:4])  # agent1's phone rings, not answered yet
    with pytest.raises(NotOnCallError, match="agent1"):
        control.active_call("agent1")


def test_an_agents_own_outgoing_call_has_no_caller(control: CallControl, live: LiveState) -> None:
    uid = "cclab-1.5"
    play(
        live,
        newchannel("PJSIP/agent1-00000009", uid, uid, "agent1", "Agent 1", "from-agents", "0312"),
    )
    live.channels[uid].state = "Up"
    with pytest.raises(NotOnCallError):
        control.active_call("agent1")


def test_after_a_pick_up_the_agent_talks_to_the_parked_caller(
    control: CallControl, live: LiveState
) -> None:
    play(live, *answered_call(), parked_call(), hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID))
    play(live, *agent2_pickup_leg(), unparked_call())
    leg, caller = control.active_call("agent2")
    assert (leg.name, caller.name) == (AGENT2_LEG, CALLER)


# -- park ----------------------------------------------------------------------------------


async def test_park_parks_the_caller_with_the_agent_as_the_one_to_ring_back(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    parked = await control.park("agent1")
    assert client.sent == [
        ("Park", {"Channel": CALLER, "TimeoutChannel": AGENT1_LEG, "Parkinglot": "default"})
    ]
    assert parked == Parked(
        slot="701",
        lot="default",
        caller_num="0311110001",
        caller_name="駐車 太郎",
        parked_at=pytest.approx(T0 + 0.97),  # type: ignore[arg-type]
        parker="agent1",
        timeout=45,
        linkedid=CALLER_UID,
    )
    assert control.parked() == [parked]
    assert parked.waited(now=T0 + 10.97) == pytest.approx(10)


async def test_park_waits_until_the_caller_is_in_the_agents_bridge(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    """app_queue puts the agent's answered leg in its bridge before the caller: a park
    sent in between took the caller out of the queue and left the agent's leg alone in
    that bridge, never hung up (a full CI run). So the park waits for the caller."""
    *answered, caller_enters, agent_enters = answered_call()
    play(live, *answered, agent_enters)
    with pytest.raises(PBXError, match="is not bridged with the caller"):
        await control.park("agent1")
    assert client.sent == []

    async def caller_soon() -> None:
        await asyncio.sleep(0.05)
        play(live, caller_enters)

    soon = asyncio.create_task(caller_soon())
    parked = await control.park("agent1")
    await soon
    assert parked.slot == "701"
    assert [a for a, _ in client.sent] == ["Park"]


async def test_park_with_a_timeout_sends_it_in_milliseconds(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    parked = await control.park("agent1", timeout_seconds=3)
    assert client.sent[0][1]["Timeout"] == "3000"
    assert parked.timeout == 3


@pytest.mark.parametrize("seconds", [0, 0.5, -1])
async def test_park_timeout_under_a_second_is_refused_first(
    control: CallControl, client: FakeClient, live: LiveState, seconds: float
) -> None:
    play(live, *answered_call())
    with pytest.raises(ValueError, match="at least 1 second"):
        await control.park("agent1", timeout_seconds=seconds)
    assert client.sent == []


async def test_park_refuses_unknown_agents_and_agents_not_on_a_call(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    with pytest.raises(UnknownAgentError, match="'agent9'"):
        await control.park("agent9")
    with pytest.raises(NotOnCallError):
        await control.park("agent2")
    play(live, *answered_call())
    with pytest.raises(NotOnCallError):
        await control.park("agent2")  # agent1 has the call
    assert client.sent == []


async def test_a_parked_caller_cannot_be_parked_again(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call(), parked_call())  # parked; agent1's leg not yet hung up
    with pytest.raises(NotOnCallError):
        await control.park("agent1")
    assert client.sent == []


async def test_park_refused_by_the_pbx_is_a_pbx_error(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    client.refuse["Park"] = "Channel does not exist: PJSIP/trunk-00000000"
    with pytest.raises(PBXError, match="Park for agent 'agent1' failed: Channel does not exist"):
        await control.park("agent1")


async def test_a_lost_connection_is_a_pbx_error(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    client.refuse["Park"] = AMIConnectionError("not connected to 127.0.0.1:5038")
    with pytest.raises(PBXError, match="not connected") as info:
        await control.park("agent1")
    assert isinstance(info.value.__cause__, AMIConnectionError)


async def test_park_without_a_parked_call_event_fails_clearly(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    client.then["Park"] = lambda h: []
    with pytest.raises(PBXError, match="reported no slot"):
        await control.park("agent1")


# -- parked list and pick-up ---------------------------------------------------------------


def test_parked_lists_by_slot_with_the_parker_as_an_agent(
    control: CallControl, live: LiveState
) -> None:
    other = parked_call("702", num="0322220002", name="新 規") | {
        "ParkeeUniqueid": "cclab-9.9",
        "ParkeeLinkedid": "cclab-9.9",
        "ParkerDialString": "PJSIP/someone",
    }
    play(live, other, parked_call("701"))
    listed = control.parked()
    assert [(p.slot, p.caller_num, p.parker) for p in listed] == [
        ("701", "0311110001", "agent1"),
        ("702", "0322220002", "PJSIP/someone"),  # not an agent: the dial string
    ]


async def test_pickup_rings_the_agents_phone_into_the_slot(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call(), parked_call("701"), hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID))
    picked = await control.pickup("agent2", "701")
    assert client.sent == [
        (
            "Originate",
            {
                "Channel": "PJSIP/agent2",
                "Context": "callcenter-parked-default",
                "Exten": "701",
                "Priority": "1",
                "Async": "true",
                "Timeout": "30000",
                "CallerID": '"駐車 太郎" <0311110001>',
            },
        )
    ]
    assert picked.slot == "701"


async def test_pickup_quotes_safely_and_allows_no_number(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, parked_call("701", num="<unknown>", name='a "b"'))
    await control.pickup("agent2", "701")
    assert client.sent[0][1]["CallerID"] == "a 'b'"


@pytest.mark.parametrize(
    ("num", "name", "caller_id"),
    [
        ("0311110001", "駐車\t太郎", '"駐車 太郎" <0311110001>'),
        ("0311110001", "駐車\x00太郎\x1b[2J", '"駐車 太郎 [2J" <0311110001>'),
        ("031111\x7f0001", "駐車 太郎", '"駐車 太郎" <031111 0001>'),
    ],
)
async def test_pickup_caller_id_holds_nothing_ami_refuses(
    control: CallControl, client: FakeClient, live: LiveState, num: str, name: str, caller_id: str
) -> None:
    # A SIP display name may hold a tab or a NUL: the AMI client refuses control
    # characters (issue 11), so the pickup would fail if they were passed on.
    play(live, parked_call("701", num=num, name=name))
    await control.pickup("agent2", "701")
    action, headers = client.sent[0]
    assert headers["CallerID"] == caller_id
    encode_action(action, headers, "id")  # the real client would send it


async def test_pickup_refusals_come_before_any_action(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call(), parked_call("701"))
    with pytest.raises(UnknownAgentError):
        await control.pickup("nobody", "701")
    with pytest.raises(UnknownSlotError, match="'702'"):
        await control.pickup("agent2", "702")
    with pytest.raises(AgentBusyError, match="agent1"):
        await control.pickup("agent1", "701")  # its leg is still up
    assert client.sent == []


async def test_pickup_refused_by_the_pbx(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, parked_call("701"))
    client.refuse["Originate"] = "Permission denied"
    with pytest.raises(PBXError, match="Originate for agent 'agent2' failed: Permission denied"):
        await control.pickup("agent2", "701")


# -- transfers -----------------------------------------------------------------------------


async def test_blind_transfer_moves_the_caller_from_the_agents_leg(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    done = await control.blind_transfer("agent1", "1001")
    assert client.sent == [
        ("BlindTransfer", {"Channel": AGENT1_LEG, "Exten": "1001", "Context": "callcenter-agents"})
    ]
    assert done == Transfer("blind", "agent1", AGENT1_LEG, CALLER, "1001", "callcenter-agents")


@pytest.mark.parametrize(
    "exten",
    ["", "_X.", "1001\r\nAction: Hangup", "10 01", "1" * 41, "sip:x@y", "１００１", "1001#"],
)
async def test_transfer_targets_must_be_plain_extensions(
    control: CallControl, client: FakeClient, live: LiveState, exten: str
) -> None:
    play(live, *answered_call())
    with pytest.raises(InvalidDestinationError):
        await control.blind_transfer("agent1", exten)
    with pytest.raises(InvalidDestinationError):
        await control.attended_transfer("agent1", exten)
    assert client.sent == []


async def test_transfer_contexts_must_be_names(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    with pytest.raises(InvalidDestinationError, match="context"):
        await control.blind_transfer("agent1", "1001", context="a,b")
    assert client.sent == []


async def test_transfer_refusals_come_before_any_action(
    control: CallControl, client: FakeClient
) -> None:
    with pytest.raises(UnknownAgentError):
        await control.blind_transfer("x", "1001")
    with pytest.raises(NotOnCallError):
        await control.blind_transfer("agent1", "1001")
    with pytest.raises(NotOnCallError):
        await control.attended_transfer("agent1", "1001")
    assert client.sent == []


async def test_blind_transfer_refused_by_the_pbx(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    client.refuse["BlindTransfer"] = "Transfer failed"
    with pytest.raises(PBXError, match="BlindTransfer for agent 'agent1' failed: Transfer failed"):
        await control.blind_transfer("agent1", "1001")


async def test_attended_transfer_waits_for_the_bridge(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    """Answered is not yet bridged: an Atxfer in between would be "queued" and do nothing
    (the feature is read when the bridge is made), so it waits for the BridgeEnter."""
    answered, bridge = answered_call()[:-2], answered_call()[-2:]
    play(live, *answered)
    with pytest.raises(PBXError, match="is not bridged with the caller"):
        await control.attended_transfer("agent1", "1001")
    assert client.sent == []

    async def bridge_soon() -> None:
        await asyncio.sleep(0.05)
        play(live, *bridge)

    soon = asyncio.create_task(bridge_soon())
    xfer = await control.attended_transfer("agent1", "1001")
    await soon
    assert xfer.channel == AGENT1_LEG
    assert [a for a, _ in client.sent] == ["Atxfer"]
    # and the leg leaves the bridge: not bridged any more
    play(live, {**bridge[1], "Event": "BridgeLeave"})
    assert live.channels[bridge[1]["Uniqueid"]].bridge == ""


async def test_attended_transfer_then_complete(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    xfer = await control.attended_transfer("agent1", "1001", context="from-trunk")
    assert xfer == Transfer("attended", "agent1", AGENT1_LEG, CALLER, "1001", "from-trunk")
    await control.complete_transfer(xfer)
    assert client.sent == [
        # "#" ends the digits: Asterisk does not wait for more (transferdigittimeout).
        ("Atxfer", {"Channel": AGENT1_LEG, "Exten": "1001#", "Context": "from-trunk"}),
        ("Hangup", {"Channel": AGENT1_LEG}),
    ]


async def test_attended_transfer_defaults_to_the_agents_context(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    await control.attended_transfer("agent1", "0312345678")
    assert client.sent[0][1]["Context"] == "callcenter-agents"


async def test_attended_transfer_without_a_feature_code_says_so(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    client.refuse["Atxfer"] = "No attended transfer feature code found"
    with pytest.raises(PBXError, match="No attended transfer feature code found"):
        await control.attended_transfer("agent1", "1001")


async def test_completing_a_transfer_whose_leg_is_gone(
    control: CallControl, client: FakeClient, live: LiveState
) -> None:
    play(live, *answered_call())
    xfer = await control.attended_transfer("agent1", "1001")
    live.apply(hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID))
    with pytest.raises(NotOnCallError):
        await control.complete_transfer(xfer)
    assert [a for a, _ in client.sent] == ["Atxfer"]
