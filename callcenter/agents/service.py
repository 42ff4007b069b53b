"""Agents log in and out of ACD queues and pause with a reason, through the daemon's AMI.

An agent is a queue member on its PJSIP endpoint; log-in adds it as a dynamic member
whose state follows that device (StateInterface), so the queue rings it only when its
phone is free. Each call acts on one agent (the HTTP API lets agents act only on
themselves). Requests are checked against the configuration before any AMI action;
the answer comes from the PBX's reply, and the state view from the live state, which
the PBX's queue member events keep current (a moment after the reply).

Asterisk 16's replies (app_queue.c) that have a domain meaning are matched by text:

  QueueAdd     "Unable to add interface: Already there"  (static or dynamic member)
  QueueRemove  "Unable to remove interface: Not there"
               "Member not dynamic"                      (queues.conf members stay)
  QueuePause   "Interface not found"                     (not in the queue / in any queue)
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from callcenter.agents.errors import (
    InvalidReasonError,
    NotInQueueError,
    PBXError,
    StaticMemberError,
    UnknownAgentError,
    UnknownQueueError,
)
from callcenter.agents.state import AgentState, DeviceStatus, Membership
from callcenter.ami import AMIActionError, AMIActions, AMIError
from callcenter.dialplan.settings import AgentConfig, QueueConfig
from callcenter.telephony.live import LiveState
from callcenter.text import forbidden_character

log = structlog.get_logger("callcenter.agents")

# Asterisk keeps a pause reason in a char[80]: longer ones are cut at 79 bytes, and a cut
# inside a UTF-8 character makes Asterisk drop the QueueMemberPause event altogether.
MAX_REASON_BYTES = 79

ALREADY_THERE = "Already there"
NOT_THERE = "Not there"
NOT_DYNAMIC = "Member not dynamic"
NOT_FOUND = "Interface not found"


def check_reason(reason: str) -> str:
    """Return ``reason`` if Asterisk can keep it whole; else raise InvalidReasonError."""
    if not reason.strip():
        raise InvalidReasonError("a pause needs a reason")
    bad = forbidden_character(reason)
    if bad is not None:
        raise InvalidReasonError(
            f"the pause reason must not contain control characters or line breaks "
            f"(found U+{ord(bad):04X})"
        )
    size = len(reason.encode("utf-8"))
    if size > MAX_REASON_BYTES:
        raise InvalidReasonError(
            f"the pause reason is too long: {size} bytes in UTF-8, at most {MAX_REASON_BYTES} "
            "(about 26 Japanese characters)"
        )
    return reason


def interface_of(agent: AgentConfig) -> str:
    return f"PJSIP/{agent.id}"


class AgentService:
    def __init__(
        self,
        client: AMIActions,
        live: LiveState,
        agents: Sequence[AgentConfig],
        queues: Sequence[QueueConfig],
    ) -> None:
        self._client = client
        self._live = live
        self._agents = {a.id: a for a in agents}
        self._queues = tuple(q.name for q in queues)

    # -- checks ------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentConfig:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgentError(agent_id)
        return agent

    def _queue(self, queue: str) -> str:
        if queue not in self._queues:
            raise UnknownQueueError(queue)
        return queue

    def _queue_list(self, queues: Sequence[str] | str) -> tuple[str, ...]:
        if isinstance(queues, str):  # one name, not its letters
            queues = (queues,)
        return tuple(dict.fromkeys(self._queue(q) for q in queues))

    # -- AMI ---------------------------------------------------------------------------

    async def _send(
        self, action: str, agent: AgentConfig, queue: str | None, headers: dict[str, str]
    ) -> AMIActionError | None:
        """Send one action: None if done, the PBX's refusal to classify, PBXError otherwise."""
        try:
            await self._client.action(action, headers)
        except AMIActionError as exc:
            return exc
        except AMIError as exc:
            raise PBXError(action, agent.id, queue, str(exc)) from exc
        return None

    # -- actions -----------------------------------------------------------------------

    async def login(
        self, agent_id: str, queues: Sequence[str] | str | None = None
    ) -> tuple[str, ...]:
        """Join the queues (default: the agent's configured ones), unpaused.

        Returns the queues newly joined. Already a member (dynamic, or static from
        queues.conf) is not an error; that membership is left as it is, paused or not.
        """
        agent = self._agent(agent_id)
        names = self._queue_list(agent.queues if queues is None else queues)
        iface = interface_of(agent)
        joined: list[str] = []
        for queue in names:
            headers = {
                "Queue": queue,
                "Interface": iface,
                "MemberName": agent.name,
                "StateInterface": iface,  # the member's state follows its phone
                "Paused": "false",
            }
            refused = await self._send("QueueAdd", agent, queue, headers)
            if refused is None:
                joined.append(queue)
                log.info("agent.login", agent=agent.id, queue=queue)
            elif ALREADY_THERE not in refused.reason:
                raise PBXError("QueueAdd", agent.id, queue, refused.reason) from refused
        return tuple(joined)

    async def logout(
        self, agent_id: str, queues: Sequence[str] | str | None = None
    ) -> tuple[str, ...]:
        """Leave the queues; returns the queues left.

        Queues named: the agent must be a dynamic member of each (NotInQueueError,
        StaticMemberError); they are left in order, and an error stops there. No queues
        named: every configured queue it is in, or is configured for; the ones it is not
        in, or cannot leave (static), are skipped.
        """
        agent = self._agent(agent_id)
        iface = interface_of(agent)
        strict = queues is not None
        if queues is None:
            names = tuple(
                q
                for q in self._queues
                if q in agent.queues
                or (q in self._live.queues and iface in self._live.queues[q].members)
            )
        else:
            names = self._queue_list(queues)
        left: list[str] = []
        for queue in names:
            refused = await self._send(
                "QueueRemove", agent, queue, {"Queue": queue, "Interface": iface}
            )
            if refused is None:
                left.append(queue)
                log.info("agent.logout", agent=agent.id, queue=queue)
            elif NOT_THERE in refused.reason:
                if strict:
                    raise NotInQueueError(agent.id, queue) from refused
            elif NOT_DYNAMIC in refused.reason:
                if strict:
                    raise StaticMemberError(agent.id, queue) from refused
            else:
                raise PBXError("QueueRemove", agent.id, queue, refused.reason) from refused
        return tuple(left)

    async def pause(self, agent_id: str, reason: str, *, queue: str | None = None) -> None:
        """Pause the agent with a reason: in every queue it is in, or in ``queue`` only."""
        agent = self._agent(agent_id)
        check_reason(reason)
        await self._pause(agent, True, reason, queue)

    async def resume(self, agent_id: str, *, queue: str | None = None) -> None:
        """End the pause: in every queue the agent is in, or in ``queue`` only."""
        await self._pause(self._agent(agent_id), False, None, queue)

    async def _pause(
        self, agent: AgentConfig, paused: bool, reason: str | None, queue: str | None
    ) -> None:
        headers = {"Interface": interface_of(agent), "Paused": "true" if paused else "false"}
        if queue is not None:
            headers = {"Queue": self._queue(queue), **headers}
        if reason is not None:
            headers["Reason"] = reason
        # Without a Queue header Asterisk pauses the interface in all its queues at once.
        refused = await self._send("QueuePause", agent, queue, headers)
        if refused is not None:
            if NOT_FOUND in refused.reason:
                raise NotInQueueError(agent.id, queue) from refused
            raise PBXError("QueuePause", agent.id, queue, refused.reason) from refused
        log.info("agent.pause" if paused else "agent.resume", agent=agent.id, queue=queue)

    # -- state -------------------------------------------------------------------------

    def state(self, agent_id: str) -> AgentState:
        """The agent in every configured queue, as the live state has it now."""
        agent = self._agent(agent_id)
        iface = interface_of(agent)
        memberships: list[Membership] = []
        for name in self._queues:
            q = self._live.queues.get(name)
            m = q.members.get(iface) if q is not None else None
            if m is None:
                memberships.append(Membership(name, member=False, status=None))
            else:
                memberships.append(
                    Membership(
                        name,
                        member=True,
                        status=DeviceStatus.from_ami(m.status),
                        paused=m.paused,
                        reason=m.paused_reason if m.paused else "",
                    )
                )
        return AgentState(agent.id, agent.name, iface, tuple(memberships))
