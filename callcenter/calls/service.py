"""Call control for agents: park a caller, pick a parked call up, transfer blind or attended.

Every request is checked against the configuration and the live state (which the PBX's
events keep current) before any AMI action; AMI errors come back as ``PBXError`` with
the PBX's reason (never the AMI secret: the client's errors do not carry it).

How Asterisk 16.28 (res_parking, the bridging core) does each, as seen on the lab:

  park      AMI ``Park`` Channel=<caller> TimeoutChannel=<agent's leg>. The caller's
            bridge peer is that leg, so res_parking parks it as if the agent had: the
            agent's leg is hung up, ParkerDialString is ``PJSIP/<agent>`` and a timeout
            (lot's parkingtime, or the action's Timeout in ms, whole seconds, >= 1)
            rings that device back (ParkedCallTimeOut, then a new agent leg with the
            call's Linkedid). The response carries no slot: the ParkedCall event does.
  pickup    AMI ``Originate`` of ``PJSIP/<agent>`` into the lot's context at the slot
            (res_parking adds 701... to ``parkedcalls`` itself), Async. The AMI user
            needs the ``originate`` write class, or Asterisk answers "Permission
            denied". The agent's leg has a Linkedid of its own in Newchannel (the
            bridge later gives it the caller's): UnParkedCall's Retriever links them.
  blind     AMI ``BlindTransfer`` Channel=<agent's leg>: the caller goes to
            Context/Exten, the agent's leg is hung up; BlindTransfer event, Result
            Success. No features need enabling.
  attended  AMI ``Atxfer`` Channel=<agent's leg>: queues the atxfer feature code and
            the digits on the agent's leg, as if the agent had pressed them. It needs
            an atxfer code (features.conf ``atxfer``, else "No attended transfer feature
            code found") and transfers allowed for the agent in its bridge (Queue
            option ``t`` / Dial ``t``, or BRIDGE_FEATURES): without them Asterisk says
            "Atxfer successfully queued" and nothing happens (the digits reach the
            caller). Both are read when the bridge is set up. Hanging the agent's leg
            up after the target answered completes it (AttendedTransfer, DestType
            Bridge).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from callcenter.ami import AMI_UNSAFE, AMIActions, AMIError, Message
from callcenter.calls.errors import (
    AgentBusyError,
    InvalidDestinationError,
    NotOnCallError,
    PBXError,
    UnknownAgentError,
    UnknownSlotError,
)
from callcenter.dialplan.settings import AgentConfig, TransferTargetConfig
from callcenter.telephony.live import Channel, LiveState, ParkedCall

log = structlog.get_logger("callcenter.calls")

# A dialplan extension: digits, letters (queue names), * +. No pattern characters, and
# no "#" (the attended transfer sends it to end the digits).
_EXTEN = re.compile(r"[0-9A-Za-z*+]{1,40}")
_CONTEXT = re.compile(r"[0-9A-Za-z_.-]{1,79}")


def _caller_id_text(text: str) -> str:
    """A caller's name or number, from the PBX's events, fit for an Originate's CallerID:
    no double quote (it would end the name), and a space for each character AMI refuses
    (a SIP display name may hold a tab or a NUL; it must not make the pickup fail)."""
    return AMI_UNSAFE.sub(" ", text.replace('"', "'"))


def _newest_first(channel: Channel) -> tuple[int, int]:
    """Order channels newest first by Uniqueid (``[system-]epoch.sequence``)."""
    epoch, _, seq = channel.uniqueid.rpartition("-")[2].partition(".")
    try:
        return -int(epoch), -int(seq or 0)
    except ValueError:
        return 0, 0


@dataclass(frozen=True, slots=True)
class Parked:
    """A parked call as agents see it."""

    slot: str
    lot: str
    caller_num: str
    caller_name: str
    parked_at: float  # epoch seconds
    parker: str  # the agent id that parked it (or the ring-back dial string if no agent)
    timeout: int  # seconds before it rings the parker back
    linkedid: str  # the call (CallRecord.linkedid)

    def waited(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.parked_at)


@dataclass(frozen=True, slots=True)
class Transfer:
    kind: str  # "blind" or "attended"
    agent_id: str
    channel: str  # the agent's channel that transferred
    caller_channel: str
    target: str
    context: str


class CallControl:
    def __init__(
        self,
        client: AMIActions,
        live: LiveState,
        agents: Sequence[AgentConfig],
        *,
        parkinglot: str = "default",
        pickup_context: str = "callcenter-parked-default",
        transfer_context: str = "callcenter-agents",
        consult_context: str = "callcenter-agents",
        targets: Sequence[TransferTargetConfig] = (),
        ring_seconds: float = 30.0,
        park_confirm_seconds: float = 5.0,
    ) -> None:
        self._client = client
        self._live = live
        self._agents = {a.id: a for a in agents}
        self.parkinglot = parkinglot
        self.pickup_context = pickup_context
        self.transfer_context = transfer_context
        self.consult_context = consult_context
        # Named destinations (the second line): a transfer to the name dials its number.
        self.targets = {t.name: t for t in targets}
        self.ring_seconds = ring_seconds
        self.park_confirm_seconds = park_confirm_seconds

    # -- checks ------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentConfig:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgentError(agent_id)
        return agent

    def _channels_of(self, agent: AgentConfig) -> list[Channel]:
        prefix = f"PJSIP/{agent.id}-"
        return [c for c in self._live.channels.values() if c.name.startswith(prefix)]

    def _peer(self, leg: Channel) -> Channel | None:
        """The caller an agent's leg talks to: the first channel of its call, or the
        parked caller it picked up."""
        channels = self._live.channels
        parkee = self._live.retrieved.get(leg.uniqueid)
        if parkee is not None and parkee in channels:
            return channels[parkee]
        first = channels.get(leg.linkedid)
        if first is not None and first.uniqueid != leg.uniqueid:
            return first
        return None

    def active_call(self, agent_id: str) -> tuple[Channel, Channel]:
        """(agent's channel, caller's channel) of the call the agent is talking on."""
        agent = self._agent(agent_id)
        for leg in sorted(self._channels_of(agent), key=_newest_first):
            if leg.state != "Up":
                continue
            peer = self._peer(leg)
            if peer is not None and peer.uniqueid not in self._live.parked:
                return leg, peer
        raise NotOnCallError(agent.id)

    def _destination(self, exten: str) -> str:
        """A transfer target's name stands for its number."""
        target = self.targets.get(exten)
        return self._exten(target.number if target is not None else exten)

    @staticmethod
    def _exten(exten: str) -> str:
        if not _EXTEN.fullmatch(exten):
            raise InvalidDestinationError(
                f"not a dialable extension: {exten!r} (digits, letters, * + only)"
            )
        return exten

    @staticmethod
    def _context(context: str) -> str:
        if not _CONTEXT.fullmatch(context):
            raise InvalidDestinationError(f"not a dialplan context name: {context!r}")
        return context

    def _view(self, p: ParkedCall) -> Parked:
        parker = p.parker_dial
        tech, _, resource = parker.partition("/")
        if tech.upper() == "PJSIP" and resource in self._agents:
            parker = resource
        return Parked(
            slot=p.slot,
            lot=p.lot,
            caller_num=p.caller_num,
            caller_name=p.caller_name,
            parked_at=p.parked_at,
            parker=parker,
            timeout=p.timeout,
            linkedid=p.linkedid,
        )

    # -- AMI ---------------------------------------------------------------------------

    async def _send(self, action: str, agent: AgentConfig, headers: dict[str, str]) -> Message:
        try:
            return await self._client.action(action, headers)
        except AMIError as exc:
            # AMIActionError carries the PBX's own reason; the others a connection state.
            detail = getattr(exc, "reason", None) or str(exc)
            raise PBXError(action, agent.id, detail) from exc

    # -- parking -----------------------------------------------------------------------

    def parked(self) -> list[Parked]:
        """The calls parked now, by slot."""
        calls = sorted(
            self._live.parked.values(), key=lambda p: (p.lot, len(p.slot), p.slot, p.parked_at)
        )
        return [self._view(p) for p in calls]

    async def park(self, agent_id: str, *, timeout_seconds: float | None = None) -> Parked:
        """Park the caller the agent talks to; return the slot (from the ParkedCall event).

        ``timeout_seconds`` overrides the lot's parkingtime (whole seconds, at least 1).
        The agent's leg is hung up; if nobody picks the call up in time it rings the
        agent's phone again.
        """
        agent = self._agent(agent_id)
        if timeout_seconds is not None and timeout_seconds < 1:
            raise ValueError("a parking timeout is at least 1 second")
        leg, caller = self.active_call(agent.id)
        # Between the agent's answer and app_queue's bridge, a park took the caller out of
        # the queue and left the agent's leg alone in its bridge, never hung up, and the
        # ring-back found the agent busy (a full CI run: the button pressed at once).
        await self._until_bridged(leg, caller, agent.id, "Park")
        headers = {
            "Channel": caller.name,
            "TimeoutChannel": leg.name,  # the caller's bridge peer: parked "by" the agent
            "Parkinglot": self.parkinglot,
        }
        if timeout_seconds is not None:
            headers["Timeout"] = str(int(timeout_seconds * 1000))
        await self._send("Park", agent, headers)
        deadline = time.monotonic() + self.park_confirm_seconds
        while (parked := self._live.parked.get(caller.uniqueid)) is None:
            if time.monotonic() >= deadline:
                raise PBXError(
                    "Park", agent.id, f"the PBX accepted but reported no slot for {caller.name}"
                )
            await asyncio.sleep(0.02)
        log.info("call.parked", agent=agent.id, slot=parked.slot, linkedid=parked.linkedid)
        return self._view(parked)

    async def pickup(self, agent_id: str, slot: str) -> Parked:
        """Ring the agent's phone; answered, it is connected to the call parked in ``slot``.

        Returns at once with the call being picked up; the UnParkedCall event (and the
        call leaving ``parked()``) follows when the agent answers.
        """
        agent = self._agent(agent_id)
        parked = self._live.parked_in(slot, self.parkinglot)
        if parked is None:
            raise UnknownSlotError(slot)
        if self._channels_of(agent):
            raise AgentBusyError(agent.id)
        name = _caller_id_text(parked.caller_name)
        number = _caller_id_text(parked.caller_num)
        headers = {
            "Channel": f"PJSIP/{agent.id}",
            "Context": self.pickup_context,
            "Exten": parked.slot,
            "Priority": "1",
            "Async": "true",  # the reply comes now, not when (if) the agent answers
            "Timeout": str(int(self.ring_seconds * 1000)),
            # The agent's phone shows who is waiting, not the parking lot.
            "CallerID": f'"{name}" <{number}>' if number else name,
        }
        await self._send("Originate", agent, headers)
        log.info("call.pickup", agent=agent.id, slot=slot, linkedid=parked.linkedid)
        return self._view(parked)

    # -- transfers ---------------------------------------------------------------------

    async def blind_transfer(
        self, agent_id: str, exten: str, context: str | None = None
    ) -> Transfer:
        """Send the agent's caller to ``exten`` (in ``context``); the agent's leg ends."""
        agent = self._agent(agent_id)
        exten = self._destination(exten)
        context = self._context(context or self.transfer_context)
        leg, caller = self.active_call(agent.id)
        # Between the agent's answer and the bridge Asterisk refuses a blind transfer
        # ("Transfer invalid"): the agent pressed the button as soon as the call showed.
        await self._until_bridged(leg, caller, agent.id, "BlindTransfer")
        await self._send(
            "BlindTransfer", agent, {"Channel": leg.name, "Exten": exten, "Context": context}
        )
        log.info("call.blind_transfer", agent=agent.id, target=exten, linkedid=caller.linkedid)
        return Transfer("blind", agent.id, leg.name, caller.name, exten, context)

    async def attended_transfer(
        self, agent_id: str, exten: str, context: str | None = None
    ) -> Transfer:
        """Start an attended transfer: the caller waits on hold while the agent's phone
        calls ``exten``; ``complete_transfer`` (or the agent hanging up) joins them.

        Asterisk runs it as the agent's attended-transfer DTMF feature, so the agent's
        bridge must allow it: the queue must bridge with transfers allowed for the agent
        (Queue option ``t``, or BRIDGE_FEATURES=t), and the feature needs a code
        (features.conf ``atxfer``, or the channel's FEATUREMAP(atxfer)).
        """
        agent = self._agent(agent_id)
        exten = self._destination(exten)
        context = self._context(context or self.consult_context)
        leg, caller = self.active_call(agent.id)
        # The feature is read when the bridge is made: an Atxfer that comes between the
        # agent's answer and the bridge is "queued" and silently does nothing.
        await self._until_bridged(leg, caller, agent.id, "Atxfer")
        # "#" ends the digits at once: without it Asterisk waits transferdigittimeout (3 s)
        # whenever a longer extension could still match (a pattern such as _X.).
        await self._send(
            "Atxfer", agent, {"Channel": leg.name, "Exten": f"{exten}#", "Context": context}
        )
        log.info("call.attended_transfer", agent=agent.id, target=exten, linkedid=caller.linkedid)
        return Transfer("attended", agent.id, leg.name, caller.name, exten, context)

    async def _until_bridged(
        self, leg: Channel, caller: Channel, agent_id: str, action: str
    ) -> None:
        """Wait until the agent's leg and the caller are in one bridge (app_queue puts
        the agent's leg in first: its bridge alone is not the call yet)."""
        deadline = time.monotonic() + self.park_confirm_seconds
        while not leg.bridge or caller.bridge != leg.bridge:
            if time.monotonic() >= deadline:
                raise PBXError(action, agent_id, f"{leg.name} is not bridged with the caller")
            await asyncio.sleep(0.02)

    async def complete_transfer(self, transfer: Transfer) -> None:
        """Complete an attended transfer: hang up the agent's (transferring) leg."""
        agent = self._agent(transfer.agent_id)
        if not any(c.name == transfer.channel for c in self._live.channels.values()):
            raise NotOnCallError(agent.id)
        await self._send("Hangup", agent, {"Channel": transfer.channel})
