"""An agent's state as the PBX reports it: per queue, member or not, device, pause."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeviceStatus(StrEnum):
    """The agent's device state (Asterisk's AST_DEVICE_*, ``Status`` in queue member events)."""

    UNKNOWN = "unknown"  # 0: the channel driver cannot tell (also any value not listed here)
    NOT_IN_USE = "not_in_use"  # 1: idle, a queue call can ring it
    IN_USE = "in_use"  # 2: on a call
    BUSY = "busy"  # 3: busy, takes no further call
    INVALID = "invalid"  # 4: no such device (e.g. the endpoint is not in pjsip.conf)
    UNAVAILABLE = "unavailable"  # 5: not reachable (not registered, or qualify failed)
    RINGING = "ringing"  # 6 ringing; and 7, ringing while on another call
    ON_HOLD = "on_hold"  # 8: its call is on hold

    @classmethod
    def from_ami(cls, value: str) -> DeviceStatus:
        return _BY_NUMBER.get(value.strip(), cls.UNKNOWN)


_BY_NUMBER = {
    "0": DeviceStatus.UNKNOWN,
    "1": DeviceStatus.NOT_IN_USE,
    "2": DeviceStatus.IN_USE,
    "3": DeviceStatus.BUSY,
    "4": DeviceStatus.INVALID,
    "5": DeviceStatus.UNAVAILABLE,
    "6": DeviceStatus.RINGING,
    "7": DeviceStatus.RINGING,  # AST_DEVICE_RINGINUSE
    "8": DeviceStatus.ON_HOLD,
}


@dataclass(frozen=True, slots=True)
class Membership:
    """The agent in one queue. Not a member: no status, not paused."""

    queue: str
    member: bool
    status: DeviceStatus | None  # the device as this queue sees it; None if not a member
    paused: bool = False
    reason: str = ""  # the pause reason ("" when not paused or none was given)


@dataclass(frozen=True, slots=True)
class AgentState:
    agent_id: str
    name: str
    interface: str  # e.g. PJSIP/agent1
    queues: tuple[Membership, ...]  # every configured queue, in configuration order

    @property
    def logged_in(self) -> bool:
        """A member of at least one queue."""
        return any(m.member for m in self.queues)

    @property
    def paused(self) -> bool:
        """Paused in every queue it is a member of (and a member of one at least)."""
        members = [m for m in self.queues if m.member]
        return bool(members) and all(m.paused for m in members)

    @property
    def device(self) -> DeviceStatus:
        """The device state (all memberships follow the same device); unknown if in no queue."""
        return next((m.status for m in self.queues if m.status is not None), DeviceStatus.UNKNOWN)

    def queue(self, name: str) -> Membership:
        for m in self.queues:
            if m.queue == name:
                return m
        raise KeyError(name)
