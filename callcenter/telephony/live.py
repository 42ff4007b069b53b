"""Live view of the PBX: active channels, queues and parked calls.

Pure logic: ``apply(event)`` for every AMI event, and ``reset_from_resync`` with the
event lists of QueueStatus and CoreShowChannels after each (re)connect. The resync
replaces what was known, so channels that ended while the daemon was disconnected
(no Hangup ever arrived) disappear, and channels that started meanwhile appear.
Parked calls follow res_parking's events (ParkedCall, UnParkedCall, ParkedCallTimeOut,
ParkedCallGiveUp, ParkedCallSwap) and are replaced by ``resync_parked`` with the event
list of the ParkedCalls action.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

# The AMI events after which the live state or the call tracker may have changed what
# the pages show: the daemon tells its fronts (the live websocket) after these (Newexten,
# VarSet, RTCP and the like, most of the stream, change nothing there).
LIVE_EVENTS = frozenset(
    {
        *("Newchannel", "Newstate", "Hangup", "UserEvent", "AgentConnect", "Hold", "Unhold"),
        *("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon"),
        *("QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberRemoved"),
        *("ParkedCall", "ParkedCallSwap", "UnParkedCall", "ParkedCallTimeOut"),
        *("ParkedCallGiveUp", "BlindTransfer", "AttendedTransfer"),
    }
)


@dataclass
class Channel:
    uniqueid: str
    linkedid: str
    name: str
    state: str
    caller_num: str
    caller_name: str
    context: str = ""
    exten: str = ""
    bridge: str = ""  # the bridge it is in (BridgeUniqueid), "" when in none


@dataclass
class QueueEntry:
    uniqueid: str
    channel: str
    caller_num: str
    caller_name: str
    position: int


@dataclass
class QueueMember:
    interface: str
    name: str
    status: str  # AST_DEVICE_* number as text: 1 not in use, 2 in use, 5 unavailable, 6 ringing ...
    paused: bool
    paused_reason: str = ""
    # When the PBX last changed this member's device state or pause (epoch seconds; for
    # a member found by a resync with nothing known before: the resync's time).
    since: float = 0.0

    def same_state(self, other: QueueMember) -> bool:
        return (self.status, self.paused, self.paused_reason) == (
            other.status,
            other.paused,
            other.paused_reason,
        )


@dataclass
class Queue:
    name: str
    strategy: str = ""
    maxlen: int = 0
    members: dict[str, QueueMember] = field(default_factory=dict)
    entries: dict[str, QueueEntry] = field(default_factory=dict)


@dataclass
class ParkedCall:
    """A call waiting in a parking slot (res_parking's ParkedCall event, Parkee*/Parker*)."""

    slot: str  # ParkingSpace, e.g. "701": dial it in the lot's context to pick the call up
    lot: str  # Parkinglot, e.g. "default"
    channel: str  # the parked (caller's) channel
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    parked_at: float  # epoch seconds
    timeout: int  # seconds in the slot before it rings the parker back (0: never)
    parker_dial: str = ""  # where a timeout rings back, e.g. "PJSIP/agent1"
    parker_channel: str = ""  # the channel that parked it, when one did (empty for AMI Park)


def _caller_id(value: str | None) -> str:
    return "" if value in (None, "<unknown>") else str(value)


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


class LiveState:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.queues: dict[str, Queue] = {}
        self.parked: dict[str, ParkedCall] = {}  # by the parked channel's Uniqueid
        # Channels that took a call out of a slot (UnParkedCall's Retriever), to the parked
        # channel they now talk to: an originated pick-up has a Linkedid of its own.
        self.retrieved: dict[str, str] = {}
        # Interfaces that left their last queue, and when (the wallboard's "logged out
        # since"); dropped when the interface joins a queue again.
        self.left: dict[str, float] = {}
        self.resyncs = 0

    # -- resync --------------------------------------------------------------------------

    def reset_from_resync(
        self, queue_status: Iterable[Mapping[str, str]], channels: Iterable[Mapping[str, str]]
    ) -> None:
        before = self.queues
        self.channels = {}
        self.queues = {}
        for ev in channels:
            if ev.get("Event") == "CoreShowChannel":
                self._add_channel(ev)
        for ev in queue_status:
            name = ev.get("Event")
            if name == "QueueParams":
                q = self._queue(ev["Queue"])
                q.strategy = ev.get("Strategy", "")
                q.maxlen = _int(ev.get("Max"))
            elif name == "QueueMember":
                self._set_member(ev, before.get(ev.get("Queue", "")))
            elif name == "QueueEntry":
                self._add_entry(ev)
        now = time.time()
        for iface in {i for q in before.values() for i in q.members} - self._interfaces():
            self.left.setdefault(iface, now)  # gone while the daemon did not look
        self.resyncs += 1

    def _interfaces(self) -> set[str]:
        return {i for q in self.queues.values() for i in q.members}

    def resync_parked(self, events: Iterable[Mapping[str, str]], now: float | None = None) -> None:
        """Replace the parked calls with the ParkedCalls action's event list.

        The list's ParkedCall events carry ParkingDuration (whole seconds parked so far) and
        no Timestamp: a call parked since before is known by its time, a new one is parked
        at ``now`` minus that. Call it after ``reset_from_resync`` (it keeps pick-ups only
        of channels still up).
        """
        now = time.time() if now is None else now
        known, self.parked = self.parked, {}
        self.retrieved = {
            r: p for r, p in self.retrieved.items() if r in self.channels and p in self.channels
        }
        for ev in events:
            if ev.get("Event") != "ParkedCall":
                continue
            old = known.get(ev.get("ParkeeUniqueid", ""))
            if old is not None and old.slot == ev.get("ParkingSpace"):
                self._add_parked(ev, old.parked_at)  # still there: keep the exact time
            else:
                self._add_parked(ev, now - _int(ev.get("ParkingDuration")))

    def parked_in(self, slot: str, lot: str | None = None) -> ParkedCall | None:
        """The call parked in ``slot`` (of ``lot``, or of any lot), if any."""
        for p in self.parked.values():
            if p.slot == slot and (lot is None or p.lot == lot):
                return p
        return None

    # -- events --------------------------------------------------------------------------

    def apply(self, ev: Mapping[str, str]) -> None:
        handler = self._handlers.get(ev.get("Event", ""))
        if handler is not None:
            handler(self, ev)

    def _queue(self, name: str) -> Queue:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = Queue(name)
        return q

    def _add_channel(self, ev: Mapping[str, str]) -> None:
        uid = ev.get("Uniqueid", "")
        self.channels[uid] = Channel(
            uniqueid=uid,
            linkedid=ev.get("Linkedid", uid),
            name=ev.get("Channel", ""),
            state=ev.get("ChannelStateDesc", ""),
            caller_num=ev.get("CallerIDNum", ""),
            caller_name=ev.get("CallerIDName", ""),
            context=ev.get("Context", ""),
            exten=ev.get("Exten", ""),
            bridge=ev.get("BridgeId", ""),  # CoreShowChannel has it; Newchannel does not
        )

    def _bridge_enter(self, ev: Mapping[str, str]) -> None:
        ch = self.channels.get(ev.get("Uniqueid", ""))
        if ch is not None:
            ch.bridge = ev.get("BridgeUniqueid", "")

    def _bridge_leave(self, ev: Mapping[str, str]) -> None:
        ch = self.channels.get(ev.get("Uniqueid", ""))
        if ch is not None and ch.bridge == ev.get("BridgeUniqueid", ""):
            ch.bridge = ""

    def _newstate(self, ev: Mapping[str, str]) -> None:
        ch = self.channels.get(ev.get("Uniqueid", ""))
        if ch is not None:
            ch.state = ev.get("ChannelStateDesc", ch.state)

    def _hangup(self, ev: Mapping[str, str]) -> None:
        uid = ev.get("Uniqueid", "")
        self.channels.pop(uid, None)
        self.parked.pop(uid, None)  # a parked channel that hung up has left its slot
        self.retrieved.pop(uid, None)
        for retriever in [r for r, p in self.retrieved.items() if p == uid]:
            del self.retrieved[retriever]

    def _add_parked(self, ev: Mapping[str, str], parked_at: float) -> None:
        uid = ev.get("ParkeeUniqueid", "")
        if not uid:
            return
        self.parked[uid] = ParkedCall(
            slot=ev.get("ParkingSpace", ""),
            lot=ev.get("Parkinglot", ""),
            channel=ev.get("ParkeeChannel", ""),
            uniqueid=uid,
            linkedid=ev.get("ParkeeLinkedid", uid),
            caller_num=_caller_id(ev.get("ParkeeCallerIDNum")),
            caller_name=_caller_id(ev.get("ParkeeCallerIDName")),
            parked_at=parked_at,
            timeout=_int(ev.get("ParkingTimeout")),
            parker_dial=ev.get("ParkerDialString", ""),
            parker_channel=ev.get("ParkerChannel", ""),
        )

    def _parked_call(self, ev: Mapping[str, str]) -> None:
        known = self.parked.get(ev.get("ParkeeUniqueid", ""))
        if known is not None and known.slot == ev.get("ParkingSpace"):
            # Seen already (e.g. again in a ParkedCalls list): keep the exact park time.
            parked_at = known.parked_at
        else:
            now = _float(ev.get("Timestamp"), time.time())  # list events carry no Timestamp
            parked_at = now - _int(ev.get("ParkingDuration"))
        self._add_parked(ev, parked_at)

    def _parked_swap(self, ev: Mapping[str, str]) -> None:
        # Another channel took the parked one's place (e.g. a Local channel optimised
        # away): the slot and its time stay, the channel changes.
        old = next((p for p in self.parked.values() if p.slot == ev.get("ParkingSpace")), None)
        if old is not None:
            del self.parked[old.uniqueid]
        self._add_parked(ev, old.parked_at if old is not None else time.time())

    def _unparked(self, ev: Mapping[str, str]) -> None:
        parkee = ev.get("ParkeeUniqueid", "")
        self.parked.pop(parkee, None)
        retriever = ev.get("RetrieverUniqueid")
        if ev.get("Event") == "UnParkedCall" and retriever and parkee:
            self.retrieved[retriever] = parkee

    def _add_entry(self, ev: Mapping[str, str]) -> None:
        uid = ev.get("Uniqueid", "")
        self._queue(ev.get("Queue", "")).entries[uid] = QueueEntry(
            uniqueid=uid,
            channel=ev.get("Channel", ""),
            caller_num=ev.get("CallerIDNum", ""),
            caller_name=ev.get("CallerIDName", ""),
            position=_int(ev.get("Position")),
        )

    def _leave(self, ev: Mapping[str, str]) -> None:
        q = self.queues.get(ev.get("Queue", ""))
        gone = q.entries.pop(ev.get("Uniqueid", ""), None) if q is not None else None
        if q is not None and gone is not None:
            # Those behind move up, as in Asterisk (which sends no event for it): a caller
            # who joins later is given the next place, behind all of them.
            for e in q.entries.values():
                if e.position > gone.position:
                    e.position -= 1

    def _set_member(self, ev: Mapping[str, str], before: Queue | None = None) -> None:
        iface = ev.get("Interface") or ev.get("Location") or ev.get("StateInterface", "")
        queue = self._queue(ev.get("Queue", ""))
        member = QueueMember(
            interface=iface,
            name=ev.get("MemberName") or ev.get("Name", iface),
            status=ev.get("Status", ""),
            paused=ev.get("Paused") == "1",
            paused_reason=ev.get("PausedReason", ""),
        )
        old = (before or queue).members.get(iface)
        if old is not None and old.same_state(member):
            member.since = old.since
        else:
            member.since = _float(ev.get("Timestamp"), time.time())
        queue.members[iface] = member
        self.left.pop(iface, None)

    def _remove_member(self, ev: Mapping[str, str]) -> None:
        q = self.queues.get(ev.get("Queue", ""))
        iface = ev.get("Interface", "")
        gone = q is not None and q.members.pop(iface, None) is not None
        if gone and iface not in self._interfaces():
            self.left[iface] = _float(ev.get("Timestamp"), time.time())

    _handlers: ClassVar[dict[str, Callable[[LiveState, Mapping[str, str]], None]]] = {
        "Newchannel": _add_channel,
        "Newstate": _newstate,
        "Hangup": _hangup,
        "BridgeEnter": _bridge_enter,
        "BridgeLeave": _bridge_leave,
        "QueueCallerJoin": _add_entry,
        "QueueCallerLeave": _leave,
        "QueueCallerAbandon": _leave,
        "QueueMemberAdded": _set_member,
        "QueueMemberStatus": _set_member,
        "QueueMemberPause": _set_member,
        "QueueMemberRemoved": _remove_member,
        "ParkedCall": _parked_call,
        "ParkedCallSwap": _parked_swap,
        "UnParkedCall": _unparked,
        "ParkedCallTimeOut": _unparked,
        "ParkedCallGiveUp": _unparked,
    }
