"""Builders for realistic Asterisk 16 AMI events, so tracker tests read like call scripts.

Header names and values follow what the lab Asterisk 16.28 really sends
(``tests/fixtures/ami/lab_traffic.raw``: Newchannel, UserEvent, QueueCallerJoin,
AgentCalled, AgentConnect, AgentComplete, QueueCallerAbandon, QueueCallerLeave,
Hangup, QueueEntry) and, for events the capture does not hold (BlindTransfer,
AttendedTransfer, ParkedCall, UnParkedCall, ParkedCallTimeOut, ParkedCallGiveUp,
Hold, Unhold, CoreShowChannel), the Asterisk 16 AMI documentation.

A script is written in seconds after ``T0``::

    pbx = Pbx()
    call = pbx.call("0312345678", "山田 太郎")
    call.arrive(at=0).entered(at=0).join(at=1).ring(AGENT1, at=1).connect(AGENT1, at=3)
    call.hangup(at=63)
    records = play(CallTracker("lab"), call)

Every event carries Asterisk's own time (``Timestamp:``) unless the script is made with
``timestamps=False``; the daemon "receives" it ``lag`` seconds later, so a tracker that
used the received time instead would be visibly off.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Self

from callcenter.telephony.calls import CallRecord
from callcenter.telephony.tracker import CallTracker

T0 = 1_717_200_000.0  # 2024-06-01 09:00:00 Asia/Tokyo
SYSTEM = "cclab"
UNKNOWN = "<unknown>"

Event = dict[str, str]


class Step(NamedTuple):
    """One event as the daemon gets it: Asterisk's time, and the time it was received."""

    at: float
    received: float
    event: Event


@dataclass(frozen=True)
class Agent:
    endpoint: str  # PJSIP endpoint, e.g. "agent1"
    name: str  # queue member name (AgentConnect MemberName)

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.endpoint}"


AGENT1 = Agent("agent1", "Agent 1")
AGENT2 = Agent("agent2", "Agent 2")
AGENT3 = Agent("agent3", "佐藤 花子")


@dataclass
class Leg:
    """One channel, as Asterisk snapshots it in events (``Channel``, ``Uniqueid``, ...)."""

    channel: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    caller_num: str
    caller_name: str
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    state: str = "Ring"
    priority: int = 1
    created_at: float = 0.0
    application: str = ""
    application_data: str = ""

    def headers(self, prefix: str = "") -> Event:
        state_no = {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6"}[self.state]
        h = {
            "Channel": self.channel,
            "ChannelState": state_no,
            "ChannelStateDesc": self.state,
            "CallerIDNum": self.caller_num,
            "CallerIDName": self.caller_name,
            "ConnectedLineNum": self.connected_num,
            "ConnectedLineName": self.connected_name,
            "Language": "en",
            "AccountCode": "",
            "Context": self.context,
            "Exten": self.exten,
            "Priority": str(self.priority),
            "Uniqueid": self.uniqueid,
            "Linkedid": self.linkedid,
        }
        return {prefix + k: v for k, v in h.items()}


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Pbx:
    """Hands out unique ids and channel names the way one Asterisk does."""

    def __init__(self, system: str = SYSTEM) -> None:
        self.system = system
        self._seq = itertools.count()

    def uniqueid(self, at: float) -> str:
        return f"{self.system}-{int(T0 + at)}.{next(self._seq)}"

    def channel(self, endpoint: str) -> str:
        return f"PJSIP/{endpoint}-{next(self._seq):08x}"

    def leg(
        self,
        at: float,
        endpoint: str,
        *,
        context: str,
        exten: str,
        caller_num: str,
        caller_name: str = UNKNOWN,
        linkedid: str | None = None,
    ) -> Leg:
        """A new channel ``at`` seconds after T0; its own call unless ``linkedid`` is given."""
        uid = self.uniqueid(at)
        return Leg(
            channel=self.channel(endpoint),
            uniqueid=uid,
            linkedid=linkedid or uid,
            context=context,
            exten=exten,
            caller_num=caller_num,
            caller_name=caller_name,
            created_at=T0 + at,
        )

    def call(
        self,
        caller_num: str = "0312345678",
        caller_name: str = "山田 太郎",
        *,
        dnis: str = "1000",
        context: str = "from-trunk",
        timestamps: bool = True,
        lag: float = 0.25,
    ) -> CallScript:
        return CallScript(self, caller_num, caller_name, dnis, context, timestamps, lag)


@dataclass
class _State:
    """What a CoreShowChannels / QueueStatus snapshot would show of one call."""

    caller: Leg | None = None  # the caller's channel while it is up
    caller_bridged: bool = False
    queue_entry: tuple[str, float] | None = None  # (queue, joined at)
    legs: dict[str, Leg] = field(default_factory=dict)  # other live channels of the call


class CallScript:
    """The events of one call, step by step; every method returns the script.

    ``at`` is always seconds after ``T0``.
    """

    def __init__(
        self,
        pbx: Pbx,
        caller_num: str,
        caller_name: str,
        dnis: str,
        context: str,
        timestamps: bool,
        lag: float,
    ) -> None:
        self.pbx = pbx
        self.dnis = dnis
        self.timestamps = timestamps
        self.lag = lag
        self.steps: list[Step] = []
        self.caller_num = caller_num
        self.caller_name = caller_name
        self.context = context
        self.caller: Leg | None = None
        self.queue: str | None = None  # queue the caller waits in, if any
        self.agent_leg: Leg | None = None  # the leg talking with the caller, if any
        self.agent: Agent | None = None  # the queue member who answered, until AgentComplete
        self.talking: Agent | None = None  # whose phone has the caller now (parks, transfers)
        self.parker: Agent | None = None
        self.parked = False
        self._answered_queue = "support"
        self.state = _State()
        self.timeline: list[tuple[float, _State]] = []

    # -- plumbing --------------------------------------------------------------------------

    @property
    def linkedid(self) -> str:
        assert self.caller is not None, "arrive() first"
        return self.caller.linkedid

    @property
    def events(self) -> list[Event]:
        return [s.event for s in self.steps]

    def _emit(self, at: float, name: str, *parts: Event, **headers: str) -> None:
        ev: Event = {"Event": name, "Privilege": "call,all", "SystemName": self.pbx.system}
        for part in parts:
            ev.update(part)
        ev.update(headers)
        if self.timestamps:
            ev["Timestamp"] = f"{T0 + at:.6f}"
        received = T0 + at + self.lag if self.timestamps else T0 + at
        self.steps.append(Step(T0 + at, received, ev))

    def _snap(self, at: float) -> None:
        s = self.state
        caller = replace(self.caller) if s.caller is not None and self.caller else None
        legs = {k: replace(v) for k, v in s.legs.items()}
        self.timeline.append((T0 + at, replace(s, caller=caller, legs=legs)))

    def _caller(self) -> Leg:
        assert self.caller is not None, "arrive() first"
        return self.caller

    def _leg(
        self, at: float, endpoint: str, context: str, exten: str, caller_name: str = UNKNOWN
    ) -> Leg:
        """A new channel of this call (an agent rung, a transfer target, ...)."""
        leg = self.pbx.leg(
            at,
            endpoint,
            linkedid=self.linkedid,
            context=context,
            exten=exten,
            caller_num=endpoint,
            caller_name=caller_name,
        )
        leg.connected_num, leg.connected_name = self.caller_num, self.caller_name
        self._emit(at, "Newchannel", leg.headers())
        self.state.legs[leg.uniqueid] = leg
        return leg

    def _hangup_leg(self, at: float, leg: Leg, cause: str = "16") -> None:
        text = {"16": "Normal Clearing", "19": "No user responding", "26": "Answered elsewhere"}
        self._emit(at, "Hangup", leg.headers(), Cause=cause, **{"Cause-txt": text[cause]})
        self.state.legs.pop(leg.uniqueid, None)
        if leg is self.agent_leg:
            self.agent_leg, self.talking = None, None
            self.state.caller_bridged = False

    def _user(self, at: float, stage: str, **headers: str) -> None:
        caller = self._caller()
        self._emit(
            at, "UserEvent", caller.headers(), UserEvent="CallCenter", Stage=stage, **headers
        )

    def _dialplan(self, context: str, exten: str) -> Leg:
        caller = self._caller()
        caller.context, caller.exten, caller.priority = context, exten, caller.priority + 1
        return caller

    # -- arrival and the dialplan ----------------------------------------------------------

    def arrive(self, at: float) -> Self:
        """The trunk's Newchannel: the call starts."""
        self.caller = self.pbx.leg(
            at,
            "trunk",
            context=self.context,
            exten=self.dnis,
            caller_num=self.caller_num,
            caller_name=self.caller_name,
        )
        self._emit(at, "Newchannel", self.caller.headers())
        self.state.caller = self.caller
        self._snap(at)
        return self

    def entered(self, at: float, queue: str = "support", dnis: str | None = None) -> Self:
        self._dialplan("callcenter-inbound", self.dnis).state = "Up"
        self._user(at, "entered", Queue=queue, Dnis=self.dnis if dnis is None else dnis)
        self._snap(at)
        return self

    def ivr(self, at: float, menu: str, choice: str) -> Self:
        self._dialplan("callcenter-ivr", menu)
        self._user(at, "ivr", Menu=menu, Choice=choice)
        self._snap(at)
        return self

    def after_hours(self, at: float) -> Self:
        self._dialplan("callcenter-closed", "s")
        self._user(at, "after_hours")
        self._snap(at)
        return self

    def busy(self, at: float, queue: str = "support") -> Self:
        """The 'all lines are busy' announcement starts."""
        self._dialplan("callcenter-busy", queue)
        self._user(at, "busy", Queue=queue)
        self._snap(at)
        return self

    def join(self, at: float, queue: str = "support") -> Self:
        """The dialplan says 'queued', then app_queue's QueueCallerJoin."""
        caller = self._dialplan("callcenter-queue", queue)
        caller.application, caller.application_data = "Queue", f"{queue},tT,,,300"
        self._user(at, "queued", Queue=queue)
        self._emit(at, "QueueCallerJoin", caller.headers(), Queue=queue, Position="1", Count="1")
        self.queue = queue
        self.state.queue_entry = (queue, T0 + at)
        self._snap(at)
        return self

    def transfer_out(self, at: float, target: str = "0120000000") -> Self:
        """The dialplan sends the call to an outside number (before any answer)."""
        self._leave_queue(at)
        self._user(at, "transfer_out", Target=target)
        self._leg(at, "trunk", "from-trunk", target)
        self.state.caller_bridged = True  # bridged with the outside party
        self._snap(at)
        return self

    def voicemail(self, at: float) -> Self:
        self._leave_queue(at)
        self._dialplan("callcenter-voicemail", "s").application = "VoiceMail"
        self._user(at, "voicemail")
        self._snap(at)
        return self

    def callback(self, at: float) -> Self:
        self._leave_queue(at)
        self._dialplan("callcenter-callback", "s")
        self._user(at, "callback")
        self._snap(at)
        return self

    def ended(self, at: float, reason: str = "queue_timeout") -> Self:
        """The dialplan gives up on the call (it hangs up right after, see ``hangup``)."""
        self._leave_queue(at)
        self._user(at, "ended", Reason=reason)
        self._snap(at)
        return self

    def _leave_queue(self, at: float, *, abandon: bool = False) -> None:
        if self.queue is None:
            return
        caller = self._caller()
        if abandon:
            self._emit(
                at,
                "QueueCallerAbandon",
                caller.headers(),
                Queue=self.queue,
                Position="1",
                OriginalPosition="1",
                HoldTime="0",
            )
        self._emit(at, "QueueCallerLeave", caller.headers(), Queue=self.queue, Position="1")
        self.queue = None
        self.state.queue_entry = None

    # -- agents ----------------------------------------------------------------------------

    def _agent_headers(self, leg: Leg, agent: Agent, queue: str) -> Event:
        return {
            **self._caller().headers(),
            **leg.headers("Dest"),
            "Queue": queue,
            "Interface": agent.interface,
            "MemberName": agent.name,
        }

    def ring(self, agent: Agent, at: float) -> Self:
        """app_queue rings an agent: a new leg of the call, and AgentCalled."""
        assert self.queue is not None, "join() first"
        leg = self._leg(at, agent.endpoint, "from-agents", self.queue, agent.name)
        self._emit(at, "AgentCalled", self._agent_headers(leg, agent, self.queue))
        self._snap(at)
        return self

    def _ringing_leg(self, agent: Agent) -> Leg:
        for leg in self.state.legs.values():
            if leg.caller_num == agent.endpoint and leg.state != "Up":
                return leg
        raise AssertionError(f"ring({agent}) first")

    def no_answer(self, agent: Agent, at: float) -> Self:
        """The agent did not pick up: app_queue gives up on that leg."""
        assert self.queue is not None
        leg = self._ringing_leg(agent)
        self._emit(
            at, "AgentRingNoAnswer", self._agent_headers(leg, agent, self.queue), RingTime="15"
        )
        self._hangup_leg(at, leg, cause="19")
        self._snap(at)
        return self

    def connect(self, agent: Agent, at: float) -> Self:
        """The agent answers: QueueCallerLeave, AgentConnect, the two legs are bridged."""
        assert self.queue is not None, "join() and ring() first"
        queue = self.queue
        leg = self._ringing_leg(agent)
        leg.state = "Up"
        caller = self._caller()
        caller.state = "Up"
        caller.connected_num, caller.connected_name = agent.endpoint, agent.name
        self._leave_queue(at)
        self._emit(
            at, "AgentConnect", self._agent_headers(leg, agent, queue), HoldTime="1", RingTime="2"
        )
        self.agent_leg, self.agent, self._answered_queue = leg, agent, queue
        self.talking = agent
        self.state.caller_bridged = True
        self._snap(at)
        return self

    def _agent_complete(self, at: float, reason: str) -> None:
        """app_queue's AgentComplete, once: when the answering agent's leg leaves the call."""
        if self.agent is not None and self.agent_leg is not None:
            self._emit(
                at,
                "AgentComplete",
                self._agent_headers(self.agent_leg, self.agent, self._answered_queue),
                HoldTime="1",
                TalkTime="1",
                Reason=reason,
            )
            self.agent = None

    def hold(self, at: float) -> Self:
        """The agent's phone puts the caller on hold (Hold on the agent's channel)."""
        assert self.agent_leg is not None, "connect() first"
        self._emit(at, "Hold", self.agent_leg.headers(), MusicClass="default")
        self._snap(at)
        return self

    def unhold(self, at: float) -> Self:
        assert self.agent_leg is not None
        self._emit(at, "Unhold", self.agent_leg.headers())
        self._snap(at)
        return self

    def hangup_leg(self, at: float) -> Self:
        """Only the agent's current leg hangs up (e.g. it left after a transfer)."""
        assert self.agent_leg is not None
        self._hangup_leg(at, self.agent_leg)
        self._snap(at)
        return self

    # -- parking ---------------------------------------------------------------------------

    def _parkee(self) -> Event:
        return self._caller().headers("Parkee")

    def park(self, at: float, space: str = "701") -> Self:
        """AMI Park: the caller goes to a parking space; the agent's leg leaves."""
        assert self.agent_leg is not None, "connect() first"
        leg = self.agent_leg
        self.parker = self.talking or Agent(leg.caller_num, leg.caller_name)
        self._emit(
            at,
            "ParkedCall",
            self._parkee(),
            ParkerDialString=self.parker.interface,
            Parkinglot="default",
            ParkingSpace=space,
            ParkingTimeout="45",
            ParkingDuration="0",
        )
        self.parked = True
        self._agent_complete(at, "transfer")
        self._hangup_leg(at, self.agent_leg)
        self.state.caller_bridged = True  # in the parking bridge, alone
        self._snap(at)
        return self

    def unpark(self, agent: Agent, at: float, space: str = "701") -> Self:
        """Someone dials the parking space and picks the caller up."""
        assert self.parked, "park() first"
        retriever = self.pbx.leg(
            at,
            agent.endpoint,
            context="from-agents",
            exten=space,
            caller_num=agent.endpoint,
            caller_name=agent.name,
        )
        self._emit(at, "Newchannel", retriever.headers())  # an internal call, so far
        self._emit(
            at,
            "UnParkedCall",
            self._parkee(),
            retriever.headers("Retriever"),
            ParkerDialString=self.parker.interface if self.parker else "",
            Parkinglot="default",
            ParkingSpace=space,
            ParkingTimeout="45",
            ParkingDuration="0",
        )
        # Once bridged with the caller, the retriever's channel takes the call's Linkedid.
        retriever.linkedid, retriever.state = self.linkedid, "Up"
        self.state.legs[retriever.uniqueid] = retriever
        self.agent_leg, self.parked, self.talking = retriever, False, agent
        self._snap(at)
        return self

    def park_timeout(self, at: float, space: str = "701") -> Self:
        """Nobody picked it up: the caller goes back to the parker, who answers."""
        assert self.parked, "park() first"
        assert self.parker is not None
        self._emit(
            at,
            "ParkedCallTimeOut",
            self._parkee(),
            ParkerDialString=self.parker.interface,
            Parkinglot="default",
            ParkingSpace=space,
            ParkingTimeout="45",
            ParkingDuration="45",
        )
        leg = self._leg(
            at, self.parker.endpoint, "park-dial", self.parker.endpoint, self.parker.name
        )
        leg.state = "Up"
        self.agent_leg, self.parked, self.talking = leg, False, self.parker
        self._snap(at)
        return self

    def park_give_up(self, at: float, space: str = "701", hangup_at: float | None = None) -> Self:
        """The caller hangs up while parked (ParkedCallGiveUp, then the caller's Hangup)."""
        assert self.parked, "park() first"
        assert self.parker is not None
        self._emit(
            at,
            "ParkedCallGiveUp",
            self._parkee(),
            ParkerDialString=self.parker.interface,
            Parkinglot="default",
            ParkingSpace=space,
            ParkingTimeout="45",
            ParkingDuration="10",
        )
        self.parked = False
        return self.hangup(at if hangup_at is None else hangup_at)

    # -- transfers -------------------------------------------------------------------------

    def blind_transfer(
        self,
        at: float,
        extension: str,
        *,
        result: str = "Success",
        rings: bool = True,
        answered: bool = True,
    ) -> Self:
        """The agent blind-transfers the caller to ``extension``.

        On success the agent's leg leaves and, if ``rings``, a new leg rings ``extension``
        (and is answered if ``answered``; for a queue, use ``rings=False`` and ``join``).
        On failure nothing else happens.
        """
        assert self.agent_leg is not None, "connect() first"
        transferer = self.agent_leg
        bridge = "6a1b2c3d-0000-4000-8000-000000000001"
        self._emit(
            at,
            "BlindTransfer",
            transferer.headers("Transferer"),
            self._caller().headers("Transferee"),
            Result=result,
            BridgeUniqueid=bridge,
            BridgeType="basic",
            BridgeTechnology="simple_bridge",
            BridgeCreator="<unknown>",
            BridgeName="<unknown>",
            BridgeNumChannels="2",
            BridgeVideoSourceMode="none",
            IsExternal="No",
            Context="from-agents",
            Extension=extension,
        )
        if result == "Success":
            self._agent_complete(at, "transfer")
            self._hangup_leg(at, transferer)
            self._dialplan("from-agents", extension)
            leg = self._leg(at, extension, "from-agents", extension) if rings else None
            if leg is not None and answered:
                leg.state = "Up"
                self.agent_leg, self.talking = leg, None
                self.state.caller_bridged = True
        self._snap(at)
        return self

    def attended_transfer(
        self,
        at: float,
        target_num: str,
        *,
        target_name: str = UNKNOWN,
        dial_at: float | None = None,
        result: str = "Success",
    ) -> Self:
        """The agent calls ``target_num`` on a second line, then joins the caller to it.

        The consultation call is a separate (internal) call with its own Linkedid; after
        the transfer the target's channel is bridged with the caller and both of the
        agent's channels hang up.
        """
        assert self.agent_leg is not None, "connect() first"
        agent = self.talking or AGENT1
        first = self.agent_leg
        when = at if dial_at is None else dial_at
        second = self.pbx.leg(
            when,
            agent.endpoint,
            context="from-agents",
            exten=target_num,
            caller_num=agent.endpoint,
            caller_name=agent.name,
        )
        target = self.pbx.leg(
            when,
            "trunk",
            linkedid=second.linkedid,
            context="from-agents",
            exten=target_num,
            caller_num=target_num,
            caller_name=target_name,
        )
        self._emit(when, "Newchannel", second.headers())
        self._emit(when, "Newchannel", target.headers())
        bridge1, bridge2 = "b-000000000001", "b-000000000002"
        self._emit(
            at,
            "AttendedTransfer",
            first.headers("OrigTransferer"),
            {"OrigBridgeUniqueid": bridge1, "OrigBridgeType": "basic"},
            second.headers("SecondTransferer"),
            {"SecondBridgeUniqueid": bridge2, "SecondBridgeType": "basic"},
            self._caller().headers("Transferee"),
            target.headers("TransferTarget"),
            Result=result,
            DestType="Bridge" if result == "Success" else "Fail",
            DestBridgeUniqueid=bridge1,
            IsExternal="No",
        )
        if result == "Success":
            self._agent_complete(at, "transfer")
            self._hangup_leg(at, first)
            self._emit(at, "Hangup", second.headers(), Cause="16", **{"Cause-txt": "x"})
            target.linkedid, target.state = self.linkedid, "Up"
            self.state.legs[target.uniqueid] = target
            self.agent_leg, self.talking = target, None
            self.state.caller_bridged = True
        self._snap(at)
        return self

    # -- the end ---------------------------------------------------------------------------

    def hangup(self, at: float) -> Self:
        """The caller hangs up (abandoning the queue if still in it); the rest follows."""
        caller = self._caller()
        self._leave_queue(at, abandon=True)
        self._agent_complete(at, "caller")
        self._emit(at, "Hangup", caller.headers(), Cause="16", **{"Cause-txt": "Normal Clearing"})
        for leg in list(self.state.legs.values()):
            self._hangup_leg(at, leg, cause="16" if leg.state == "Up" else "26")
        self.state = _State()
        self._snap(at)
        return self

    def agent_hangup(self, at: float) -> Self:
        """The agent hangs up first; Asterisk then hangs up the caller."""
        assert self.agent_leg is not None, "connect() first"
        self._agent_complete(at, "agent")
        self._hangup_leg(at, self.agent_leg)
        return self.hangup(at)

    # -- a snapshot after a reconnect ------------------------------------------------------

    def _state_at(self, now: float) -> _State:
        state = _State()
        for when, s in self.timeline:
            if when <= T0 + now:
                state = s
        return state

    def core_show_channels(self, now: float) -> list[Event]:
        """CoreShowChannel events for this call's live channels, ``now`` seconds after T0."""
        state = self._state_at(now)
        if state.caller is None:
            return []
        bridge = f"bridge-{self.linkedid}" if state.caller_bridged else ""
        out = [core_show_channel(state.caller, T0 + now, bridge_id=bridge)]
        for leg in state.legs.values():
            out.append(
                core_show_channel(leg, T0 + now, bridge_id=bridge if leg.state == "Up" else "")
            )
        return out

    def queue_entries(self, now: float) -> list[Event]:
        state = self._state_at(now)
        if state.queue_entry is None or state.caller is None:
            return []
        queue, joined = state.queue_entry
        return [queue_entry(state.caller, queue, T0 + now - joined)]


def core_show_channel(leg: Leg, now: float, *, bridge_id: str = "") -> Event:
    """One ``CoreShowChannel`` of a CoreShowChannels list, as Asterisk 16 writes it."""
    return {
        "Event": "CoreShowChannel",
        "ActionID": "resync-1",
        **leg.headers(),
        "Application": leg.application or ("AppDial" if leg.uniqueid != leg.linkedid else ""),
        "ApplicationData": leg.application_data or "(Outgoing Line)",
        "Duration": hms(now - leg.created_at),
        "BridgeId": bridge_id,
    }


def core_show_channels_of(steps: Iterable[Step], now: float, *, bridge_id: str = "") -> list[Event]:
    """CoreShowChannel events for the channels of ``steps`` still up ``now`` s after T0."""
    up: dict[str, Leg] = {}
    for step in steps:
        ev = step.event
        if step.at > T0 + now:
            break
        if ev["Event"] == "Newchannel":
            up[ev["Uniqueid"]] = Leg(
                channel=ev["Channel"],
                uniqueid=ev["Uniqueid"],
                linkedid=ev["Linkedid"],
                context=ev["Context"],
                exten=ev["Exten"],
                caller_num=ev["CallerIDNum"],
                caller_name=ev["CallerIDName"],
                state="Up",
                created_at=step.at,
            )
        elif ev["Event"] == "Hangup":
            up.pop(ev["Uniqueid"], None)
    return [core_show_channel(leg, T0 + now, bridge_id=bridge_id) for leg in up.values()]


def queue_entry(leg: Leg, queue: str, wait: float, position: int = 1) -> Event:
    """One ``QueueEntry`` of a QueueStatus list."""
    return {
        "Event": "QueueEntry",
        "ActionID": "resync-2",
        "Queue": queue,
        "Position": str(position),
        "Channel": leg.channel,
        "Uniqueid": leg.uniqueid,
        "CallerIDNum": leg.caller_num,
        "CallerIDName": leg.caller_name,
        "ConnectedLineNum": leg.connected_num,
        "ConnectedLineName": leg.connected_name,
        "Wait": str(int(wait)),
        "Priority": "0",
    }


def snapshot(
    scripts: Iterable[CallScript], now: float, *extra: Event
) -> tuple[list[Event], list[Event]]:
    """(CoreShowChannels, QueueStatus) lists as Asterisk would answer them ``now``."""
    channels: list[Event] = [{"Response": "Success", "EventList": "start", "ActionID": "resync-1"}]
    entries: list[Event] = [{"Response": "Success", "EventList": "start", "ActionID": "resync-2"}]
    for s in scripts:
        channels += s.core_show_channels(now)
        entries += s.queue_entries(now)
    channels += list(extra)
    channels.append({"Event": "CoreShowChannelsComplete", "EventList": "Complete"})
    entries.append({"Event": "QueueStatusComplete", "EventList": "Complete"})
    return channels, entries


def internal_call(pbx: Pbx, at: float, frm: Agent, to: Agent, end: float) -> list[Step]:
    """An agent calling another agent (context from-agents): not an inbound call."""
    a = pbx.leg(
        at,
        frm.endpoint,
        context="from-agents",
        exten=to.endpoint,
        caller_num=frm.endpoint,
        caller_name=frm.name,
    )
    b = pbx.leg(
        at,
        to.endpoint,
        linkedid=a.linkedid,
        context="from-agents",
        exten=to.endpoint,
        caller_num=to.endpoint,
        caller_name=to.name,
    )

    def step(t: float, name: str, leg: Leg, **h: str) -> Step:
        return Step(T0 + t, T0 + t, {"Event": name, **leg.headers(), **h})

    return [
        step(at, "Newchannel", a),
        step(at, "Newchannel", b),
        step(at + 1, "Hold", a, MusicClass="default"),
        step(at + 2, "Unhold", a),
        step(end, "Hangup", b, Cause="16"),
        step(end, "Hangup", a, Cause="16"),
    ]


def merged(*sources: CallScript | Iterable[Step]) -> list[Step]:
    """All steps of several calls in Asterisk's time order (stable: a call keeps its order)."""
    steps: list[Step] = []
    for src in sources:
        steps += src.steps if isinstance(src, CallScript) else list(src)
    return sorted(steps, key=lambda s: s.at)


def play(tracker: CallTracker, *sources: CallScript | Iterable[Step]) -> list[CallRecord]:
    """Feed the steps in order; return the records the tracker finished, in order."""
    done: list[CallRecord] = []
    for step in merged(*sources):
        record = tracker.feed(step.event, step.received)
        if record is not None:
            done.append(record)
    return done


def one(tracker: CallTracker, script: CallScript) -> CallRecord:
    """Play one call and return its (only) record."""
    records = play(tracker, script)
    assert len(records) == 1, records
    assert tracker.calls == {}
    return records[0]
