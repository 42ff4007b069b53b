"""The call tracker: AMI events in, one finished CallRecord per inbound call out.

Pure logic, no I/O. Calls are keyed by Linkedid; the caller's channel is the one whose
Uniqueid equals the Linkedid, and its Hangup ends the call. The dialplan reports what
matters with ``UserEvent(CallCenter, Stage: ...)``; queue, transfer, parking and hold
events fill in the rest. ``resync`` reconciles the open calls with a snapshot taken
after a (re)connect, so calls that ended or began during a gap are completed correctly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import ClassVar

from callcenter.telephony.calls import CallRecord, Outcome, Transfer, classify
from callcenter.telephony.facts import CallAnswered, CallFinished, Fact, SurveyAnswered

Event = Mapping[str, str]

ROUTED_STAGES = {
    "transfer_out": Outcome.TRANSFERRED_OUT.value,
    "voicemail": Outcome.VOICEMAIL.value,
    "callback": Outcome.CALLBACK.value,
}


def event_time(ev: Event, received: float) -> float:
    """Asterisk's own time of the event when it sends one (timestampevents=yes).

    The receive time instead when the Timestamp is missing, not a number, not finite, or
    more than a day away from the receive time: a garbage ``Timestamp: 1e19`` would
    otherwise end up in datetime arithmetic (OverflowError) and in stored calls.
    """
    max_skew = 86_400.0  # Asterisk's clock may be off a little, never by a day
    ts = ev.get("Timestamp")
    if ts:
        try:
            t = float(ts)
        except (ValueError, TypeError):
            return received
        # Written so that NaN and infinities fail the test as well.
        if abs(t - received) <= max_skew:
            return t
    return received


# Contexts where only the desk's own phones start calls (rendered by dialplan render),
# and where the desk's call-backs run (the agent's phone first, then the caller).
INTERNAL_CONTEXTS = frozenset({"callcenter-agents", "callcenter-transfer", "callcenter-followup"})


def _endpoint(channel: str) -> str:
    """'PJSIP/agent1-0000002a' -> 'agent1'."""
    rest = channel.split("/", 1)[-1]
    return rest.rsplit("-", 1)[0] if "-" in rest else rest


def _name(value: str | None) -> str:
    return "" if value in (None, "<unknown>") else str(value)


def _hms(value: str | None) -> float:
    try:
        h, m, s = (value or "0:0:0").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return 0.0


class CallTracker:
    def __init__(
        self,
        server_id: str,
        *,
        short_abandon_seconds: float = 5.0,
        inbound_contexts: Iterable[str] = ("from-trunk",),
        dialplan_context_prefix: str = "callcenter",
        agent_names: Mapping[str, str] | None = None,
        definitions: str = "",
    ) -> None:
        self.server_id = server_id
        self.definitions = definitions
        # Endpoint id -> the agent's name, so a group answer (reported by endpoint) and a
        # queue answer (reported by member name) count for the same person.
        self.agent_names = dict(agent_names or {})
        self.short_abandon_seconds = short_abandon_seconds
        self.inbound_contexts = frozenset(inbound_contexts)
        self.dialplan_context_prefix = dialplan_context_prefix
        self.calls: dict[str, CallRecord] = {}
        self._holds: dict[str, tuple[str, float]] = {}  # channel uniqueid -> (linkedid, start)
        self._parks: dict[str, tuple[str, float]] = {}  # parkee uniqueid -> (linkedid, start)
        # First channels of calls that are not inbound (an agent's phone calling out, or
        # calling the queue): a resync must not take them for inbound calls it missed.
        self._not_inbound: set[str] = set()
        # Facts not handed over yet (apply and resync_facts hand them over, in order).
        self._facts: list[Fact] = []

    # -- events --------------------------------------------------------------------------

    def apply(self, ev: Event, received: float) -> list[Fact]:
        """Apply one event; the facts it made known, in order."""
        handler = self._handlers.get(ev.get("Event", ""))
        finished = None if handler is None else handler(self, ev, event_time(ev, received))
        facts, self._facts = self._facts, []
        if finished is not None:
            facts.append(CallFinished(finished))
        return facts

    def feed(self, ev: Event, received: float) -> CallRecord | None:
        """Apply one event; the call it finished, if any (for replays, which need no
        other fact)."""
        for fact in self.apply(ev, received):
            if isinstance(fact, CallFinished):
                return fact.call
        return None

    def _call(self, ev: Event, *keys: str) -> CallRecord | None:
        for key in keys or ("Linkedid",):
            call = self.calls.get(ev.get(key, ""))
            if call is not None:
                return call
        return None

    def _newchannel(self, ev: Event, t: float) -> None:
        uid = ev.get("Uniqueid", "")
        if not uid or uid != ev.get("Linkedid"):
            return
        if ev.get("Context") not in self.inbound_contexts:
            self._not_inbound.add(uid)
        else:
            self.calls.setdefault(
                uid,
                CallRecord(
                    server_id=self.server_id,
                    linkedid=uid,
                    arrived_at=t,
                    caller_num=_name(ev.get("CallerIDNum")),
                    caller_name=_name(ev.get("CallerIDName")),
                    dnis=ev.get("Exten", ""),
                ),
            )

    def _user_event(self, ev: Event, t: float) -> None:
        if ev.get("UserEvent") != "CallCenter":
            return
        call = self._call(ev)
        stage = ev.get("Stage", "")
        if stage == "survey":
            # Kept even for a call this tracker does not know (it started before a
            # restart): the answer lands on the call's incident all the same.
            answer, linkedid = ev.get("Answer", ""), ev.get("Linkedid", "")
            if answer in ("1", "2", "3", "4", "5") and linkedid:  # else: no rating given
                number = call.caller_num if call is not None else ""
                respondent = number or f"call:{linkedid}"
                self._facts.append(
                    SurveyAnswered(self.server_id, linkedid, respondent, int(answer), t)
                )
            return
        if call is None:
            return
        queue = ev.get("Queue") or None
        if stage in ("entered", "queued", "busy") and queue and call.answered_at is None:
            # The queue that answers keeps the call: its SLA, not a later transfer's.
            call.queue = queue
        if stage == "entered" and ev.get("Dnis"):
            call.dnis = ev["Dnis"]
        elif stage == "ivr":
            call.ivr_path.append(f"{ev.get('Menu', '')}:{ev.get('Choice', '')}")
        elif stage == "busy":
            if call.busy_at is None:
                call.busy_at = t
        elif stage == "after_hours":
            call.after_hours = True
        elif stage == "answered":
            # A group member answered (reported from its own channel): no AgentConnect.
            if call.answered_at is None and ev.get("Agent"):
                call.answered_at = t
                call.agent = self.agent_names.get(ev["Agent"], ev["Agent"])
                call.agent_interface = f"PJSIP/{ev['Agent']}"
                self._facts.append(CallAnswered(call))
        elif call.answered_at is not None:
            return  # routing after an answer does not change what happened to the call
        elif stage in ROUTED_STAGES:
            call.routed = ROUTED_STAGES[stage]
            if stage == "transfer_out" and ev.get("Target"):
                # Sent on by the dialplan (an IVR choice), not by an agent.
                call.transfers.append(Transfer("routed", t, ev["Target"], ev.get("Channel", "")))
        elif stage == "ended":
            call.system_end = ev.get("Reason") or "ended"

    def _queue_join(self, ev: Event, t: float) -> None:
        call = self._call(ev)
        if call is not None:
            call.queue = call.queue or ev.get("Queue")
            if call.queued_at is None:
                call.queued_at = t

    def _agent_connect(self, ev: Event, t: float) -> None:
        call = self._call(ev)
        if call is not None and call.answered_at is None:
            call.answered_at = t
            call.agent = ev.get("MemberName") or ev.get("Interface")
            call.agent_interface = ev.get("Interface")
            call.queue = call.queue or ev.get("Queue")
            self._facts.append(CallAnswered(call))

    def _hold(self, ev: Event, t: float) -> None:
        call = self._call(ev)
        if call is not None:
            self._holds.setdefault(ev.get("Uniqueid", ""), (call.linkedid, t))

    def _unhold(self, ev: Event, t: float) -> None:
        started = self._holds.pop(ev.get("Uniqueid", ""), None)
        if started is not None and started[0] in self.calls:
            self.calls[started[0]].hold_seconds += max(0.0, t - started[1])

    def _parked(self, ev: Event, t: float) -> None:
        if ev.get("ParkeeUniqueid", "") in self._parks:
            return  # listed again (a ParkedCalls resync): the same park, not a new one
        call = self._call(ev, "ParkeeLinkedid")
        if call is not None:
            call.parks += 1
            self._parks[ev.get("ParkeeUniqueid", "")] = (call.linkedid, t)

    def _unparked(self, ev: Event, t: float) -> None:
        started = self._parks.pop(ev.get("ParkeeUniqueid", ""), None)
        if started is not None and started[0] in self.calls:
            self.calls[started[0]].park_seconds += max(0.0, t - started[1])

    def _blind_transfer(self, ev: Event, t: float) -> None:
        call = self._call(ev, "TransfereeLinkedid", "TransfererLinkedid")
        if call is not None and ev.get("Result", "Success") == "Success":
            call.transfers.append(
                Transfer("blind", t, ev.get("Extension", ""), ev.get("TransfererChannel", ""))
            )

    def _attended_transfer(self, ev: Event, t: float) -> None:
        call = self._call(
            ev, "TransfereeLinkedid", "OrigTransfererLinkedid", "SecondTransfererLinkedid"
        )
        if call is not None and ev.get("Result", "Success") == "Success":
            target = (
                ev.get("TransferTargetCallerIDNum")
                or ev.get("SecondTransfererConnectedLineNum")
                or ev.get("SecondTransfererExten", "")
            )
            call.transfers.append(
                Transfer("attended", t, _name(target), ev.get("OrigTransfererChannel", ""))
            )

    def _hangup(self, ev: Event, t: float) -> CallRecord | None:
        uid = ev.get("Uniqueid", "")
        # A channel that hangs up on hold (the agent's, after an attended transfer; or the
        # caller's own) ends that hold: its time counts, no Unhold will come.
        self._unhold(ev, t)
        self._not_inbound.discard(uid)
        call = self.calls.get(uid)
        if call is None:
            return None  # an agent's or other leg's channel: the call goes on
        return self._finish(call, t)

    def forget(self, linkedid: str) -> CallRecord | None:
        """Drop an open call that another source has completed (the PBX record saw its
        caller hang up while this tracker could not): it must not be finished twice."""
        call = self.calls.pop(linkedid, None)
        for held in [k for k, (lid, _) in self._holds.items() if lid == linkedid]:
            del self._holds[held]
        for parked in [k for k, (lid, _) in self._parks.items() if lid == linkedid]:
            del self._parks[parked]
        return call

    def _finish(self, call: CallRecord, t: float) -> CallRecord:
        call.ended_at = t
        for key, (linkedid, start) in list(self._parks.items()):
            if linkedid == call.linkedid:
                call.park_seconds += max(0.0, t - start)
                del self._parks[key]
        for key, (linkedid, start) in list(self._holds.items()):
            if linkedid == call.linkedid:
                call.hold_seconds += max(0.0, t - start)
                del self._holds[key]
        call.outcome, call.abandon_stage = classify(call, self.short_abandon_seconds)
        call.definitions = self.definitions
        del self.calls[call.linkedid]
        return call

    _handlers: ClassVar[dict[str, Callable[[CallTracker, Event, float], CallRecord | None]]] = {
        "Newchannel": _newchannel,
        "UserEvent": _user_event,
        "QueueCallerJoin": _queue_join,
        "AgentConnect": _agent_connect,
        "Hold": _hold,
        "Unhold": _unhold,
        "ParkedCall": _parked,
        "UnParkedCall": _unparked,
        "ParkedCallTimeOut": _unparked,
        "ParkedCallGiveUp": _unparked,
        "BlindTransfer": _blind_transfer,
        "AttendedTransfer": _attended_transfer,
        "Hangup": _hangup,
    }

    # -- resync --------------------------------------------------------------------------

    def resync_facts(
        self,
        channels: Iterable[Event],
        queue_status: Iterable[Event],
        *,
        now: float,
        pbx_restarted: bool,
        gap_started: float | None = None,
    ) -> list[Fact]:
        """``resync``, as facts: the calls it finished, and those it found answered."""
        finished = self.resync(
            channels, queue_status, now=now, pbx_restarted=pbx_restarted, gap_started=gap_started
        )
        facts: list[Fact] = [CallFinished(c) for c in finished]
        facts += self._facts
        self._facts = []
        return facts

    def resync(
        self,
        channels: Iterable[Event],
        queue_status: Iterable[Event],
        *,
        now: float,
        pbx_restarted: bool,
        gap_started: float | None = None,
    ) -> list[CallRecord]:
        """Reconcile with a snapshot taken right after a (re)connect.

        Open calls whose caller channel is gone ended during the gap: if Asterisk
        restarted they died with it (``failed`` unless answered), otherwise nobody saw
        how they ended (``unknown`` unless answered). Open calls still up catch up on
        what the snapshot shows (queued, or bridged with an agent). Caller channels not
        known yet started during the gap and are opened from the snapshot, with
        estimated times.
        """
        snapshot = [c for c in channels if c.get("Event") == "CoreShowChannel"]
        entries = {e.get("Uniqueid", ""): e for e in queue_status if e.get("Event") == "QueueEntry"}
        present = {c.get("Uniqueid", "") for c in snapshot}
        self._not_inbound &= present
        finished: list[CallRecord] = []
        for linkedid, call in list(self.calls.items()):
            if linkedid in present:
                continue
            call.estimated = True
            if pbx_restarted:
                call.system_end = call.system_end or "pbx_restart"
            else:
                call.disconnected_end = True
            # It ended somewhere in the gap: at its start is the nearest bound anyone saw
            # (a call resumed after hours must not get hours of talk time).
            end = now if gap_started is None else max(min(gap_started, now), call.arrived_at)
            finished.append(self._finish(call, end))
        legs: dict[str, list[Event]] = {}
        for c in snapshot:
            legs.setdefault(c.get("Linkedid", ""), []).append(c)
        for c in snapshot:
            uid = c.get("Uniqueid", "")
            context = c.get("Context", "")
            known = self.calls.get(uid)
            if known is not None:
                # Still up; what happened to it during the gap shows in the snapshot.
                self._catch_up(known, c, entries.get(uid), legs.get(uid, []), now)
                continue
            # A caller channel moves on from the inbound context into the desk's contexts;
            # an agent's own call (say, to the second line) starts in them too, from the
            # agent's phone: never an inbound call.
            is_caller = uid == c.get("Linkedid") and (
                context in self.inbound_contexts
                or (
                    context.startswith(self.dialplan_context_prefix)
                    and _endpoint(c.get("Channel", "")) not in self.agent_names
                    and context not in INTERNAL_CONTEXTS
                )
            )
            if not is_caller or uid in self._not_inbound:
                continue
            call = CallRecord(
                server_id=self.server_id,
                linkedid=uid,
                arrived_at=now - _hms(c.get("Duration")),
                caller_num=_name(c.get("CallerIDNum")),
                caller_name=_name(c.get("CallerIDName")),
                # Exten is the dialled number only while still in the inbound context.
                dnis=c.get("Exten", "") if context in self.inbound_contexts else "",
                estimated=True,
            )
            self._catch_up(call, c, entries.get(uid), legs.get(uid, []), now)
            self.calls[uid] = call
        return finished

    def _catch_up(
        self,
        call: CallRecord,
        caller: Event,
        entry: Event | None,
        legs: list[Event],
        now: float,
    ) -> None:
        """Fill in, from a snapshot, what the events of a gap would have said."""
        if entry is not None and call.queued_at is None:
            call.queue = call.queue or entry.get("Queue")
            call.queued_at = now - float(entry.get("Wait", "0") or 0)
            call.estimated = True
        others = [o for o in legs if o.get("Uniqueid") != call.linkedid]
        unanswered = call.answered_at is None and call.routed is None and not call.after_hours
        if unanswered and call.system_end is None and caller.get("BridgeId") and others:
            # Bridged with another leg of its own call: an agent has it.
            call.answered_at = now - min(_hms(o.get("Duration")) for o in others)
            call.agent = _name(caller.get("ConnectedLineName")) or None
            call.queue = call.queue or (caller.get("ApplicationData", "").split(",")[0] or None)
            call.estimated = True
            self._facts.append(CallAnswered(call))


# The AMI events the tracker reads; a replay of stored events needs no other.
TRACKED_EVENTS = frozenset(CallTracker._handlers)
