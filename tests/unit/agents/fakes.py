"""A fake AMI client that records actions, and queue member events as Asterisk 16.28 sends them.

The event headers are copied from the lab Asterisk 16.28 (QueueMemberAdded,
QueueMemberPause, QueueMemberStatus, QueueMemberRemoved, and QueueStatus's QueueMember).
"""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.ami import AMIActionError, AMIError, Message
from callcenter.ami.protocol import HeaderValue
from callcenter.dialplan.settings import AgentConfig, QueueConfig

AGENTS = (
    AgentConfig(id="agent1", name="Agent 1", queues=("support",), contact="sip:a1@127.0.0.1:5071"),
    AgentConfig(
        id="agent2", name="山田 太郎", queues=("support", "small"), contact="sip:a2@127.0.0.1:5072"
    ),
)
QUEUES = (QueueConfig(name="support", number="1000"), QueueConfig(name="small", number="1001"))


class FakeClient:
    """Records each action; answers Success, or as told per (action, queue)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        # (action, queue or None) -> Asterisk's error message, or an AMIError to raise
        self.refuse: dict[tuple[str, str | None], str | AMIError] = {}

    async def action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        h = {k: str(v) for k, v in (headers or {}).items()}
        self.sent.append((action, h))
        answer = self.refuse.get((action, h.get("Queue")))
        if isinstance(answer, AMIError):
            raise answer
        if answer is not None:
            raise AMIActionError(action, answer)
        return Message(Response="Success", Message="ok")


def member_event(
    event: str,
    queue: str,
    interface: str = "PJSIP/agent1",
    name: str = "Agent 1",
    *,
    status: str = "1",
    paused: bool = False,
    reason: str = "",
    membership: str = "dynamic",
) -> dict[str, str]:
    ev = {
        "Event": event,
        "Privilege": "agent,all",
        "Timestamp": "1795410002.908080",
        "SystemName": "cclab",
        "Queue": queue,
        "MemberName": name,
        "Interface": interface,
        "StateInterface": interface,
        "Membership": membership,
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "1795410002",
        "InCall": "0",
        "Status": status,
        "Paused": "1" if paused else "0",
        "PausedReason": reason,
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    if event == "QueueMemberPause" and paused:
        ev["Reason"] = reason  # only a pause carries it; an unpause has no Reason header
    return ev


def status_member(
    queue: str,
    interface: str,
    name: str,
    *,
    status: str = "1",
    paused: bool = False,
    reason: str = "",
    membership: str = "static",
) -> dict[str, str]:
    """A QueueMember event of the QueueStatus list (resync): Name/Location, not Interface."""
    return {
        "Event": "QueueMember",
        "Queue": queue,
        "Name": name,
        "Location": interface,
        "StateInterface": interface,
        "Membership": membership,
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "1795410002",
        "InCall": "0",
        "Status": status,
        "Paused": "1" if paused else "0",
        "PausedReason": reason,
        "Wrapuptime": "0",
        "ActionID": "cc-637076-11",
    }
