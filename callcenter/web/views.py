"""The PBX as JSON-ready dicts: queues, agents, calls, parked calls, today's figures and
the service mode. The REST routes answer with them and the live websocket pushes them.

Pure functions of ``PbxDeps`` and ``now`` (epoch seconds): they read the live state and
the services' views of it, never act. Times are given twice where a page shows a running
clock: the start (``since``, ISO 8601) and the seconds elapsed at ``now``. The elapsed
seconds are named in ``TICKING``: they change every second while nothing happens, so
the websocket leaves them out when it decides what changed (and the page counts on from
the message's ``at``).

Wait and talk times come from the call tracker's record when ``PbxDeps.open_calls`` is
given (the event times Asterisk stamped), else from the channel's Uniqueid, whose first
part is the channel's creation epoch (whole seconds).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from callcenter.agents.state import DeviceStatus
from callcenter.calls import NotOnCallError, Parked
from callcenter.dialplan.settings import AgentConfig
from callcenter.metrics import CallFigures
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.live import LIVE_EVENTS as LIVE_EVENTS
from callcenter.telephony.live import Channel, QueueEntry, QueueMember
from callcenter.web.deps import PbxDeps

MemberState = Literal["free", "ringing", "on_call", "paused", "logged_out", "unavailable"]
MEMBER_STATES: tuple[MemberState, ...] = (
    "free",
    "ringing",
    "on_call",
    "paused",
    "logged_out",
    "unavailable",
)
CallState = Literal["dialplan", "queued", "ringing", "talking", "parked"]
CALL_STATES: tuple[CallState, ...] = ("dialplan", "queued", "ringing", "talking", "parked")
SECTIONS = ("queues", "agents", "parked", "today", "service_mode")
# Keys whose values grow with the clock alone (see the module's docstring).
TICKING = frozenset(
    {
        *("wait_seconds", "longest_wait_seconds", "call_seconds", "parked_seconds", "seconds"),
        "state_seconds",
    }
)
# A rate is "at risk" once it has used this share of its allowance (docs in figures_dict).
AT_RISK_SHARE = 0.8
RATES = ("abandonment_rate", "busy_rate", "service_level")

_ON_CALL = frozenset({DeviceStatus.IN_USE, DeviceStatus.BUSY, DeviceStatus.ON_HOLD})
_UNREACHABLE = frozenset({DeviceStatus.UNAVAILABLE, DeviceStatus.INVALID})


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def created_at(uniqueid: str) -> float | None:
    """A channel's creation time from its Uniqueid (``[system-]epoch.sequence``)."""
    epoch = uniqueid.rpartition("-")[2].partition(".")[0]
    return float(epoch) if epoch.isdigit() else None


def _elapsed(now: float, since: float | None) -> float | None:
    return None if since is None else round(max(0.0, now - since), 3)


def endpoint_of(channel_name: str) -> str:
    """``PJSIP/agent1-0000002a`` -> ``agent1`` (the device a channel belongs to)."""
    return channel_name.partition("/")[2].rpartition("-")[0]


def agent_of_interface(interface: str) -> str:
    """``PJSIP/agent1`` -> ``agent1``: queue members are agents' PJSIP endpoints."""
    return interface.partition("/")[2] or interface


# -- one pass over the live state ---------------------------------------------------------


@dataclass
class Talk:
    """An agent's phone on a call: the caller it talks to (None: busy, but with no caller
    of ours, e.g. consulting the second line) and since when."""

    leg: Channel
    caller: Channel | None
    since: float | None


@dataclass
class Scene:
    """What several views need, found once: each agent's legs and call, the tracker's
    records. Build one per answer (``Scene.of``) and pass it to each view."""

    deps: PbxDeps
    now: float
    records: Mapping[str, CallRecord]
    agents: dict[str, AgentConfig]
    legs: dict[str, list[Channel]] = field(default_factory=dict)  # agent id -> its channels
    talks: dict[str, Talk] = field(default_factory=dict)  # agent id -> its call, if on one
    by_caller: dict[str, str] = field(default_factory=dict)  # caller uniqueid -> agent id

    @classmethod
    def of(cls, deps: PbxDeps, now: float) -> Scene:
        records = deps.open_calls() if deps.open_calls is not None else {}
        scene = cls(deps, now, records, {a.id: a for a in deps.cfg.agents})
        for ch in deps.live.channels.values():
            owner = endpoint_of(ch.name)
            if ch.name.startswith("PJSIP/") and owner in scene.agents:
                scene.legs.setdefault(owner, []).append(ch)
        for agent_id, legs in scene.legs.items():
            try:
                leg, caller = deps.calls.active_call(agent_id)
            except NotOnCallError:
                up = next((c for c in legs if c.state == "Up"), None)
                if up is not None:
                    scene.talks[agent_id] = Talk(up, None, created_at(up.uniqueid))
                continue
            scene.talks[agent_id] = Talk(leg, caller, scene._talk_since(leg, caller))
            scene.by_caller[caller.uniqueid] = agent_id
        return scene

    def _talk_since(self, leg: Channel, caller: Channel) -> float | None:
        # The call's answer time, unless this leg is newer: a pick-up from a parking
        # slot, a ring-back or a transfer gives the agent a new leg on an old call.
        record = self.records.get(caller.linkedid)
        answered = record.answered_at if record is not None else None
        known = [t for t in (answered, created_at(leg.uniqueid)) if t is not None]
        return max(known) if known else None

    def activity(self, agent_id: str) -> Literal["on_call", "ringing"] | None:
        if agent_id in self.talks:
            return "on_call"
        # A leg that is not up yet: the phone rings (a queue call, a pick-up, a ring-back).
        return "ringing" if self.legs.get(agent_id) else None

    def joined_at(self, entry: QueueEntry) -> float | None:
        """When the caller began to wait: the tracker's queue join (the first queue, not
        yet answered), the last transfer (a transferred call waits again), or the channel."""
        channel = self.deps.live.channels.get(entry.uniqueid)
        record = self.records.get(channel.linkedid if channel else entry.uniqueid)
        if record is not None:
            if record.answered_at is None and record.queued_at is not None:
                return record.queued_at
            if record.transfers:
                return record.transfers[-1].at
        return created_at(entry.uniqueid)


def member_state(member: QueueMember | None, activity: str | None) -> MemberState:
    """One word for a queue member: what the phone does first, then the pause, then the
    device. An agent on a call who also paused is on_call (``paused`` says the rest)."""
    if member is None:
        return "logged_out"
    device = DeviceStatus.from_ami(member.status)
    if activity == "on_call" or device in _ON_CALL:
        return "on_call"
    if activity == "ringing" or device is DeviceStatus.RINGING:
        return "ringing"
    if member.paused:
        return "paused"
    if device in _UNREACHABLE:
        return "unavailable"
    return "free"


def _caller_dict(talk: Talk | None) -> dict[str, str] | None:
    if talk is None or talk.caller is None:
        return None
    return {"caller_num": talk.caller.caller_num, "caller_name": talk.caller.caller_name}


# -- queues -------------------------------------------------------------------------------


def _waiting(scene: Scene, entries: Mapping[str, QueueEntry]) -> list[dict[str, Any]]:
    # Asterisk sends no event when the callers behind one who left move up: the stored
    # positions are join positions, so the order holds but the numbers must be redone.
    ordered = sorted(entries.values(), key=lambda e: (e.position, e.uniqueid))
    out = []
    for position, e in enumerate(ordered, start=1):
        since = scene.joined_at(e)
        out.append(
            {
                "uniqueid": e.uniqueid,
                "caller_num": e.caller_num,
                "caller_name": e.caller_name,
                "position": position,
                "since": iso(since),
                "wait_seconds": _elapsed(scene.now, since),
            }
        )
    return out


def _member(
    scene: Scene, agent_id: str | None, name: str, member: QueueMember | None
) -> dict[str, Any]:
    activity = scene.activity(agent_id) if agent_id is not None else None
    talk = scene.talks.get(agent_id) if agent_id is not None else None
    paused = member is not None and member.paused
    state = member_state(member, activity)
    since = _state_since(scene, state, member.since if member is not None else None, agent_id)
    return {
        "agent_id": agent_id,
        "name": name,
        "state": state,
        "state_since": iso(since),
        "state_seconds": _elapsed(scene.now, since),
        "paused": paused,
        "paused_reason": member.paused_reason if member is not None and paused else "",
        "in_call_with": _caller_dict(talk),
        "call_seconds": _elapsed(scene.now, talk.since) if talk is not None else None,
    }


def queue_view(scene: Scene, name: str, today: Mapping[str, Any] | None = None) -> dict[str, Any]:
    deps = scene.deps
    qcfg = next(q for q in deps.cfg.queues if q.name == name)
    live = deps.live.queues.get(name)
    members = dict(live.members) if live is not None else {}
    listed = []
    # Every agent configured for the queue, logged in or not; then anyone else who is a
    # member now (a dynamic log-in to a queue the agent is not configured for).
    for agent in deps.cfg.agents:
        if name in agent.queues:
            member = members.pop(f"PJSIP/{agent.id}", None)
            listed.append(_member(scene, agent.id, agent.name, member))
    for iface, member in members.items():
        agent_id = agent_of_interface(iface)
        known = scene.agents.get(agent_id)
        listed.append(
            _member(
                scene,
                agent_id if known else None,
                known.name if known else member.name,
                member,
            )
        )
    waiting = _waiting(scene, live.entries if live is not None else {})
    waits = [w["wait_seconds"] for w in waiting if w["wait_seconds"] is not None]
    figures = today if today is not None else figures_dict(deps.today_figures(name))
    return {
        "name": name,
        "number": qcfg.number,
        "waiting": waiting,
        "waiting_count": len(waiting),
        "longest_wait_seconds": max(waits, default=0.0),
        "members": listed,
        "today": figures,
    }


def queues_view(
    deps: PbxDeps, now: float, *, scene: Scene | None = None, today: TodayView | None = None
) -> list[dict[str, Any]]:
    scene = scene or Scene.of(deps, now)
    by_queue = today["by_queue"] if today is not None else {}
    return [queue_view(scene, q.name, by_queue.get(q.name)) for q in deps.cfg.queues]


# -- agents -------------------------------------------------------------------------------


def _state_since(
    scene: Scene, state: MemberState, member_since: float | None, agent_id: str | None
) -> float | None:
    """When the agent entered the state shown: its call's start when on a call; else the
    PBX's last change of its membership, pause or device (``QueueMember.since``); logged
    out: when it left its last queue. None: not known (e.g. never seen logged in)."""
    talk = scene.talks.get(agent_id) if agent_id is not None else None
    if state == "on_call" and talk is not None and talk.since is not None:
        return talk.since
    if state == "logged_out":
        return scene.deps.live.left.get(f"PJSIP/{agent_id}") if agent_id is not None else None
    return member_since or None


def agent_view(scene: Scene, agent: AgentConfig) -> dict[str, Any]:
    iface = f"PJSIP/{agent.id}"
    memberships = [
        (q.name, m)
        for q in scene.deps.live.queues.values()
        if (m := q.members.get(iface)) is not None
    ]
    paused_in = [name for name, m in memberships if m.paused]
    # Paused as a whole when paused in every queue it is in (AgentState.paused).
    paused = bool(memberships) and len(paused_in) == len(memberships)
    if memberships:
        first = memberships[0][1]
        overall = QueueMember(
            first.interface,
            first.name,
            first.status,
            paused,
            next((m.paused_reason for _, m in memberships if m.paused and m.paused_reason), ""),
        )
        state = member_state(overall, scene.activity(agent.id))
    else:
        overall = None
        state = member_state(None, None)
    since = _state_since(
        scene, state, max((m.since for _, m in memberships), default=None), agent.id
    )
    talk = scene.talks.get(agent.id)
    on_call = None
    if talk is not None and talk.caller is not None:
        on_call = {
            "caller_num": talk.caller.caller_num,
            "caller_name": talk.caller.caller_name,
            "linkedid": talk.caller.linkedid,
            "since": iso(talk.since),
            "seconds": _elapsed(scene.now, talk.since),
        }
    return {
        "id": agent.id,
        "name": agent.name,
        "queues": sorted(name for name, _ in memberships),
        "configured_queues": list(agent.queues),
        "state": state,
        "state_since": iso(since),
        "state_seconds": _elapsed(scene.now, since),
        "paused": paused,
        "paused_reason": overall.paused_reason if overall is not None and paused else "",
        "paused_queues": sorted(paused_in),
        "on_call": on_call,
    }


def agents_view(deps: PbxDeps, now: float, *, scene: Scene | None = None) -> list[dict[str, Any]]:
    scene = scene or Scene.of(deps, now)
    return [agent_view(scene, a) for a in deps.cfg.agents]


# -- calls and parked calls ---------------------------------------------------------------


def calls_view(deps: PbxDeps, now: float, *, scene: Scene | None = None) -> list[dict[str, Any]]:
    """The calls in progress, one per Linkedid: its first channel is the caller's (an
    agent's own calls, e.g. a pick-up leg before it joins the caller, are left out)."""
    scene = scene or Scene.of(deps, now)
    live = deps.live
    in_queue = {uid: q.name for q in live.queues.values() for uid in q.entries}
    ringing: dict[str, str] = {}  # linkedid -> an agent whose phone rings for it
    for owner, legs in scene.legs.items():
        for leg in legs:
            if leg.state != "Up":
                ringing.setdefault(leg.linkedid, owner)
    out = []
    for ch in live.channels.values():
        if ch.uniqueid != ch.linkedid or endpoint_of(ch.name) in scene.agents:
            continue
        record = scene.records.get(ch.linkedid)
        agent_id: str | None = scene.by_caller.get(ch.uniqueid)
        state: CallState
        if ch.uniqueid in live.parked:
            state, agent_id = "parked", None
        elif agent_id is not None:
            state = "talking"
        elif ch.uniqueid in in_queue:
            agent_id = ringing.get(ch.linkedid)
            state = "ringing" if agent_id is not None else "queued"
        else:
            state = "dialplan"
        arrived = record.arrived_at if record is not None else created_at(ch.uniqueid)
        agent = scene.agents.get(agent_id) if agent_id is not None else None
        out.append(
            {
                "linkedid": ch.linkedid,
                "caller_num": ch.caller_num,
                "caller_name": ch.caller_name,
                "queue": in_queue.get(ch.uniqueid) or (record.queue if record else None),
                "state": state,
                "agent_id": agent_id,
                "agent": agent.name if agent is not None else None,
                "since": iso(arrived),
                "seconds": _elapsed(now, arrived),
            }
        )
    out.sort(key=lambda c: (c["since"] or "", c["linkedid"]))
    return out


def parked_dict(p: Parked, now: float) -> dict[str, Any]:
    return {
        "slot": p.slot,
        "lot": p.lot,
        "caller_num": p.caller_num,
        "caller_name": p.caller_name,
        "parker": p.parker,
        "linkedid": p.linkedid,
        "since": iso(p.parked_at),
        "parked_seconds": round(p.waited(now), 3),
        "timeout": p.timeout,
    }


def parked_view(deps: PbxDeps, now: float) -> list[dict[str, Any]]:
    return [parked_dict(p, now) for p in deps.calls.parked()]


# -- figures and the service mode ---------------------------------------------------------

TodayView = dict[str, Any]


def figures_dict(f: CallFigures) -> dict[str, Any]:
    """``callcenter metrics --json``'s keys, and per rate in ``targets`` an ``at_risk``
    flag for the wallboard: the rate has used ``AT_RISK_SHARE`` of its allowance or more.
    For the ceilings (abandonment, busy) the allowance is the target; for the service
    level (a floor) it is the share of calls allowed to miss it, 1 - target. False
    without incoming calls (nothing to be at risk)."""
    doc = f.to_dict()
    rates = {
        "abandonment_rate": (f.abandonment_rate, f.cfg.abandonment_rate_target),
        "busy_rate": (f.busy_rate, f.cfg.busy_rate_target),
        "service_level": (1.0 - f.service_level, 1.0 - f.cfg.service_level_target),
    }
    for name in RATES:
        used, allowance = rates[name]
        # The epsilon: 8 abandoned of 100 is at 80% of 0.10, whatever 0.8 * 0.1 rounds to.
        doc["targets"][name]["at_risk"] = f.total_incoming > 0 and used >= (
            AT_RISK_SHARE * allowance - 1e-9
        )
    return doc


def today_view(deps: PbxDeps) -> TodayView:
    return {
        "all": figures_dict(deps.today_figures(None)),
        "by_queue": {q.name: figures_dict(deps.today_figures(q.name)) for q in deps.cfg.queues},
        "coverage": deps.today_coverage() if deps.today_coverage is not None else None,
    }


def mode_view(deps: PbxDeps) -> dict[str, Any]:
    keeper = deps.service_mode
    if keeper is None:
        # Someone else writes the mode (another daemon, the tests): we do not know it.
        return {
            "managed": False,
            "mode": None,
            "reason": None,
            "until": None,
            "note": "",
            "override": None,
        }
    decision = keeper.current()
    o = keeper.override_active
    return {
        "managed": True,
        "mode": decision.mode,
        "reason": decision.reason,
        "until": decision.valid_until.isoformat(),
        "note": decision.note,
        "override": None
        if o is None
        else {"mode": o.mode, "until": o.until.isoformat(), "note": o.note},
    }


def snapshot(deps: PbxDeps, now: float, *, today: TodayView | None = None) -> dict[str, Any]:
    """Every section the live websocket pushes (``SECTIONS``)."""
    scene = Scene.of(deps, now)
    today = today if today is not None else today_view(deps)
    return {
        "queues": queues_view(deps, now, scene=scene, today=today),
        "agents": agents_view(deps, now, scene=scene),
        "parked": parked_view(deps, now),
        "today": today,
        "service_mode": mode_view(deps),
    }


class SnapshotMaker:
    """``snapshot`` for the live hub, which asks after every burst of events: today's
    figures (a pass over the day's calls per queue) are kept until they can change.

    They change only when a call finishes, and a finished call leaves the tracker's
    open calls; so while the set of open calls and the local day stay the same, the
    figures do too. Without ``open_calls`` they are computed every time.
    """

    def __init__(self, deps: PbxDeps) -> None:
        self.deps = deps
        self.tz = ZoneInfo(deps.cfg.service.timezone)
        self._key: tuple[str, frozenset[str]] | None = None
        self._today: TodayView | None = None

    def today(self, now: float) -> TodayView:
        if self.deps.open_calls is None:
            return today_view(self.deps)
        key = (
            datetime.fromtimestamp(now, self.tz).date().isoformat(),
            frozenset(self.deps.open_calls()),
        )
        # The coverage changes without a call finishing (a link lost or back).
        coverage = self.deps.today_coverage() if self.deps.today_coverage else None
        if self._today is None or key != self._key or coverage != self._today.get("coverage"):
            self._today, self._key = today_view(self.deps), key
        return self._today

    def __call__(self, now: float | None = None) -> dict[str, Any]:
        at = time.time() if now is None else now
        return snapshot(self.deps, at, today=self.today(at))
