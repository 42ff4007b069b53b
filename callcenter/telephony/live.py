"""Live view of the PBX: active channels and queues.

Pure logic: ``apply(event)`` for every AMI event, and ``reset_from_resync`` with the
event lists of QueueStatus and CoreShowChannels after each (re)connect. The resync
replaces what was known, so channels that ended while the daemon was disconnected
(no Hangup ever arrived) disappear, and channels that started meanwhile appear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar


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


@dataclass
class Queue:
    name: str
    strategy: str = ""
    maxlen: int = 0
    members: dict[str, QueueMember] = field(default_factory=dict)
    entries: dict[str, QueueEntry] = field(default_factory=dict)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


class LiveState:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.queues: dict[str, Queue] = {}
        self.resyncs = 0

    # -- resync --------------------------------------------------------------------------

    def reset_from_resync(
        self, queue_status: Iterable[Mapping[str, str]], channels: Iterable[Mapping[str, str]]
    ) -> None:
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
                self._set_member(ev)
            elif name == "QueueEntry":
                self._add_entry(ev)
        self.resyncs += 1

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
        )

    def _newstate(self, ev: Mapping[str, str]) -> None:
        ch = self.channels.get(ev.get("Uniqueid", ""))
        if ch is not None:
            ch.state = ev.get("ChannelStateDesc", ch.state)

    def _hangup(self, ev: Mapping[str, str]) -> None:
        self.channels.pop(ev.get("Uniqueid", ""), None)

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
        if q is not None:
            q.entries.pop(ev.get("Uniqueid", ""), None)

    def _set_member(self, ev: Mapping[str, str]) -> None:
        iface = ev.get("Interface") or ev.get("Location") or ev.get("StateInterface", "")
        self._queue(ev.get("Queue", "")).members[iface] = QueueMember(
            interface=iface,
            name=ev.get("MemberName") or ev.get("Name", iface),
            status=ev.get("Status", ""),
            paused=ev.get("Paused") == "1",
            paused_reason=ev.get("PausedReason", ""),
        )

    def _remove_member(self, ev: Mapping[str, str]) -> None:
        q = self.queues.get(ev.get("Queue", ""))
        if q is not None:
            q.members.pop(ev.get("Interface", ""), None)

    _handlers: ClassVar[dict[str, Callable[[LiveState, Mapping[str, str]], None]]] = {
        "Newchannel": _add_channel,
        "Newstate": _newstate,
        "Hangup": _hangup,
        "QueueCallerJoin": _add_entry,
        "QueueCallerLeave": _leave,
        "QueueCallerAbandon": _leave,
        "QueueMemberAdded": _set_member,
        "QueueMemberStatus": _set_member,
        "QueueMemberPause": _set_member,
        "QueueMemberRemoved": _remove_member,
    }
