"""Agent activity: the record of log-ins, pauses and calls, and each agent's day from it.

Pure logic (no database, no clock): ``ActivityMapper`` turns AMI events into
``AgentEvent`` records, the same way for the live stream and for the stored event log
(the record is rebuilt from it); ``agent_days`` computes, per agent and local day, the
time logged in, paused (by reason), talking and in wrap-up, and the occupancy
``(talk + wrap-up) / (login - pause)``. The rules are in docs/decisions/0012.

The record's kinds:

  login / logout   QueueMemberAdded / QueueMemberRemoved (per agent and queue)
  pause / resume   QueueMemberPause with Paused 1 (and its PausedReason) / 0
  talk             AgentComplete: a queue call ended, ``seconds`` = its TalkTime
  seen             a member in the resync's QueueStatus list (paused or not, its reason)
  snapshot         that list is complete: whoever it did not show is logged out
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

Kind = Literal["login", "logout", "pause", "resume", "talk", "seen", "snapshot"]
KINDS: tuple[Kind, ...] = ("login", "logout", "pause", "resume", "talk", "seen", "snapshot")
# The events the mapper reads (the rest of the stream is skipped before decoding).
ACTIVITY_EVENTS = frozenset(
    {
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "AgentComplete",
        "QueueMember",
        "QueueStatusComplete",
    }
)
Span = tuple[datetime, datetime]


def agent_of(interface: str) -> str:
    """The agent id of a queue member's interface: agents are PJSIP endpoints named by
    their id (agents.service.interface_of); any other interface is kept whole."""
    return interface[len("PJSIP/") :] if interface.startswith("PJSIP/") else interface


@dataclass(frozen=True, slots=True)
class AgentEvent:
    at: datetime  # aware, UTC
    agent: str  # the agent id ("" for a snapshot)
    queue: str  # "" for a snapshot of every queue
    kind: Kind
    reason: str = ""  # pause: its reason; seen: the reason of a paused member
    paused: bool = False  # login and seen: the member is paused
    seconds: float = 0.0  # talk: the call's TalkTime

    def to_row(self, server_id: str, source: str = "ami") -> dict[str, Any]:
        return {
            "server_id": server_id,
            "source": source,
            "agent": self.agent,
            "queue": self.queue,
            "kind": self.kind,
            "reason": self.reason,
            "paused": self.paused,
            "seconds": self.seconds,
            "at": self.at,
        }


def _at(received: float | datetime) -> datetime:
    """The receive time as the event log stores it (eventlog.event_row)."""
    if isinstance(received, datetime):
        return received.astimezone(UTC)
    return datetime.fromtimestamp(received, UTC)


def _float(value: str | None) -> float:
    try:
        return max(0.0, float(value or 0))
    except ValueError:
        return 0.0


class ActivityMapper:
    """AMI events -> ``AgentEvent``s. Stateful only for the resync's QueueStatus list,
    whose members are kept by ActionID until its QueueStatusComplete: all of them are
    then recorded at that moment, followed by the snapshot mark."""

    def __init__(self) -> None:
        self._lists: dict[str, list[Mapping[str, str]]] = {}

    def apply(self, ev: Mapping[str, str], received: float | datetime) -> list[AgentEvent]:
        name = ev.get("Event", "")
        if name not in ACTIVITY_EVENTS:
            return []
        at = _at(received)
        queue = ev.get("Queue", "")
        iface = ev.get("Interface") or ev.get("Location") or ev.get("StateInterface", "")
        if name == "QueueMember":
            action = ev.get("ActionID")
            if action is not None:
                self._lists.setdefault(action, []).append(ev)
            return []
        if name == "QueueStatusComplete":
            members = self._lists.pop(ev.get("ActionID", ""), [])
            out = [
                AgentEvent(
                    at,
                    agent_of(m.get("Location") or m.get("Interface", "")),
                    m.get("Queue", ""),
                    "seen",
                    reason=m.get("PausedReason", "") if m.get("Paused") == "1" else "",
                    paused=m.get("Paused") == "1",
                )
                for m in members
            ]
            return [*out, AgentEvent(at, "", "", "snapshot")]
        if not iface or not queue:
            return []
        agent = agent_of(iface)
        if name == "QueueMemberAdded":
            paused = ev.get("Paused") == "1"
            reason = ev.get("PausedReason", "") if paused else ""
            return [AgentEvent(at, agent, queue, "login", reason=reason, paused=paused)]
        if name == "QueueMemberRemoved":
            return [AgentEvent(at, agent, queue, "logout")]
        if name == "QueueMemberPause":
            if ev.get("Paused") == "1":
                return [AgentEvent(at, agent, queue, "pause", reason=ev.get("PausedReason", ""))]
            return [AgentEvent(at, agent, queue, "resume")]
        # AgentComplete
        return [AgentEvent(at, agent, queue, "talk", seconds=_float(ev.get("TalkTime")))]


# -- intervals -------------------------------------------------------------------------------


def merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s, e in sorted(x for x in spans if x[1] > x[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def subtract(spans: Iterable[Span], minus: Iterable[Span]) -> list[Span]:
    cut = merge(minus)
    out: list[Span] = []
    for s, e in merge(spans):
        at = s
        for ms, me in cut:
            if me <= at or ms >= e:
                continue
            if ms > at:
                out.append((at, ms))
            at = max(at, me)
            if at >= e:
                break
        if at < e:
            out.append((at, e))
    return out


def intersect(spans: Iterable[Span], within: Iterable[Span]) -> list[Span]:
    a, b = merge(spans), merge(within)
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _total(spans: Iterable[Span]) -> float:
    return sum((e - s).total_seconds() for s, e in spans)


# -- one agent's day ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """One stretch of an agent's day, for the API's timeline."""

    kind: Literal["logged_in", "paused", "talk", "wrapup", "unknown"]
    start: datetime
    end: datetime
    reason: str = ""  # paused: the pause's reason
    queue: str = ""  # talk and wrapup: the call's queue

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "seconds": round((self.end - self.start).total_seconds(), 3),
            "reason": self.reason or None,
            "queue": self.queue or None,
        }


@dataclass
class QueueDay:
    login_seconds: float = 0.0
    pause_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "login_seconds": round(self.login_seconds, 3),
            "pause_seconds": round(self.pause_seconds, 3),
        }


@dataclass
class AgentDay:
    """One agent's local day. Seconds are wall-clock seconds inside that day."""

    agent: str
    day: str  # YYYY-MM-DD, service time zone
    login_seconds: float = 0.0
    pause_seconds: float = 0.0
    pause_by_reason: dict[str, float] = field(default_factory=dict)
    talk_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    calls: int = 0  # queue calls that ended this day
    queues: dict[str, QueueDay] = field(default_factory=dict)
    intervals: list[Interval] = field(default_factory=list)

    @property
    def available_seconds(self) -> float:
        return self.login_seconds - self.pause_seconds

    @property
    def occupancy(self) -> float | None:
        """(talk + wrap-up) / (login - pause); None without available time."""
        if self.available_seconds <= 0:
            return None
        return (self.talk_seconds + self.wrapup_seconds) / self.available_seconds

    @property
    def unknown(self) -> list[Interval]:
        return [i for i in self.intervals if i.kind == "unknown"]

    @property
    def complete(self) -> bool:
        return not self.unknown

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the API's and the monthly report's shape)."""
        return {
            "agent": self.agent,
            "day": self.day,
            "login_seconds": round(self.login_seconds, 3),
            "pause_seconds": round(self.pause_seconds, 3),
            "pause_by_reason": {r: round(s, 3) for r, s in sorted(self.pause_by_reason.items())},
            "talk_seconds": round(self.talk_seconds, 3),
            "wrapup_seconds": round(self.wrapup_seconds, 3),
            "available_seconds": round(self.available_seconds, 3),
            "occupancy": self.occupancy,
            "calls": self.calls,
            "queues": {q: d.to_dict() for q, d in sorted(self.queues.items())},
            "complete": self.complete,
            "unknown": [
                {"from": i.start.isoformat(), "to": i.end.isoformat()} for i in self.unknown
            ],
            "intervals": [i.to_dict() for i in self.intervals],
        }


# -- the replay ----------------------------------------------------------------------------------


@dataclass
class _Member:
    since: datetime
    paused_since: datetime | None = None
    reason: str = ""


@dataclass
class _Agent:
    """What the replay found for one agent over the whole period."""

    member: dict[str, list[Span]] = field(default_factory=dict)  # per queue
    paused: dict[str, list[tuple[datetime, datetime, str]]] = field(default_factory=dict)
    talks: list[tuple[datetime, datetime, str]] = field(default_factory=list)
    unknown: list[Span] = field(default_factory=list)


_RANK = {"snapshot": 1}


def _order(ev: AgentEvent) -> tuple[datetime, int]:
    return ev.at, _RANK.get(ev.kind, 0)


class _Replay:
    def __init__(self) -> None:
        self.open: dict[tuple[str, str], _Member] = {}
        self.agents: dict[str, _Agent] = {}
        self.seen: set[tuple[str, str]] = set()  # by the snapshot being read
        self.unknown_since: dict[str, datetime] = {}  # agents whose state is not known

    def agent(self, agent: str) -> _Agent:
        a = self.agents.get(agent)
        if a is None:
            a = self.agents[agent] = _Agent()
        return a

    def _known(self, agent: str, at: datetime) -> None:
        since = self.unknown_since.pop(agent, None)
        if since is not None and at > since:
            self.agent(agent).unknown.append((since, at))

    def _pause_end(self, key: tuple[str, str], m: _Member, at: datetime) -> None:
        if m.paused_since is not None:
            if at > m.paused_since:
                self.agent(key[0]).paused.setdefault(key[1], []).append(
                    (m.paused_since, at, m.reason)
                )
            m.paused_since, m.reason = None, ""

    def _close(self, key: tuple[str, str], at: datetime) -> None:
        m = self.open.pop(key, None)
        if m is None:
            return
        self._pause_end(key, m, at)
        if at > m.since:
            self.agent(key[0]).member.setdefault(key[1], []).append((m.since, at))

    def _ensure(self, key: tuple[str, str], at: datetime) -> tuple[_Member, bool]:
        m = self.open.get(key)
        if m is not None:
            return m, False
        m = self.open[key] = _Member(at)
        self.agent(key[0])
        return m, True

    def _set_pause(self, key: tuple[str, str], m: _Member, at: datetime, reason: str) -> None:
        if m.paused_since is not None and m.reason == reason:
            return
        self._pause_end(key, m, at)
        m.paused_since, m.reason = at, reason

    def gap(self, start: datetime) -> None:
        """No source saw the PBX from ``start``: what was open ends there, unknown after."""
        for key in list(self.open):
            self._close(key, start)
            self.unknown_since.setdefault(key[0], start)

    def gap_end(self, end: datetime) -> None:
        for agent in list(self.unknown_since):
            self._known(agent, end)

    def apply(self, ev: AgentEvent, in_gap: datetime | None) -> None:
        key = (ev.agent, ev.queue)
        if ev.kind == "snapshot":
            for k in [k for k in self.open if k not in self.seen]:
                if not ev.queue or k[1] == ev.queue:
                    self._close(k, ev.at)
            if not ev.queue:  # the whole list: every agent's state is known again
                for agent in list(self.unknown_since):
                    self._known(agent, ev.at)
            self.seen = set()
            return
        if ev.kind == "talk":
            self.agent(ev.agent).talks.append(
                (ev.at - timedelta(seconds=ev.seconds), ev.at, ev.queue)
            )
            return
        if ev.kind == "seen":
            self.seen.add(key)
            if in_gap is not None and key not in self.open:
                # Logged in, seen after a gap: since when is not known.
                self.unknown_since.setdefault(ev.agent, in_gap)
        self._known(ev.agent, ev.at)
        if ev.kind == "logout":
            self._close(key, ev.at)
            return
        m, new = self._ensure(key, ev.at)
        if ev.kind == "login":
            # A log-in of a member already in leaves it as it is (the PBX does).
            if new and ev.paused:
                self._set_pause(key, m, ev.at, ev.reason)
        elif ev.kind == "pause" or (ev.kind == "seen" and ev.paused):
            self._set_pause(key, m, ev.at, ev.reason)
        else:  # resume, or seen unpaused
            self._pause_end(key, m, ev.at)

    def finish(self, at: datetime) -> None:
        for key in list(self.open):
            self._close(key, at)
        self.gap_end(at)


def _paused_spans(a: _Agent) -> list[tuple[datetime, datetime, str]]:
    """When the agent counts as paused: logged in to at least one queue and paused in
    every queue it is in; the reason is that of the pause begun last."""
    bounds: set[datetime] = set()
    for spans in a.member.values():
        for s, e in spans:
            bounds |= {s, e}
    for ps in a.paused.values():
        for s, e, _ in ps:
            bounds |= {s, e}
    points = sorted(bounds)
    out: list[tuple[datetime, datetime, str]] = []
    for s, e in itertools.pairwise(points):
        members = [q for q, spans in a.member.items() if any(x <= s and e <= y for x, y in spans)]
        if not members:
            continue
        pauses = []
        for q in members:
            p = next((p for p in a.paused.get(q, []) if p[0] <= s and e <= p[1]), None)
            if p is None:
                break
            pauses.append(p)
        else:
            reason = max(pauses, key=lambda p: p[0])[2]
            if out and out[-1][1] == s and out[-1][2] == reason:
                out[-1] = (out[-1][0], e, reason)
            else:
                out.append((s, e, reason))
    return out


def _days(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[str, datetime, datetime]]:
    """The local days [start, end) covers, each with its bounds (UTC)."""
    out: list[tuple[str, datetime, datetime]] = []
    d = start.astimezone(tz).date()
    while True:
        lo = datetime.combine(d, time(0), tz).astimezone(UTC)
        hi = datetime.combine(d + timedelta(days=1), time(0), tz).astimezone(UTC)
        if lo >= end:
            return out
        out.append((d.isoformat(), lo, hi))
        d += timedelta(days=1)


def _clip(s: datetime, e: datetime, lo: datetime, hi: datetime) -> Span | None:
    s, e = max(s, lo), min(e, hi)
    return (s, e) if s < e else None


def agent_days(
    events: Iterable[AgentEvent],
    *,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    now: datetime,
    gaps: Sequence[Span] = (),
    wrapup: Mapping[str, float] | None = None,
) -> list[AgentDay]:
    """Each agent's figures for every local day of [start, end), from the record.

    ``events`` may begin before ``start`` (the state at ``start`` is replayed from them);
    ``gaps``: the stretches no source saw the PBX (what was open ends at a gap's start
    and the agent's time is named ``unknown`` until it is seen again); ``wrapup``: each
    queue's wrap-up seconds after a call. Nothing is counted past ``now``.
    """
    stop = min(end, now)
    wrapup = wrapup or {}
    replay = _Replay()
    # One timeline: a gap's end, then a gap's start, then the events, then snapshot marks.
    timeline: list[tuple[datetime, int, int, AgentEvent | Span]] = []
    for n, (gs, ge) in enumerate(sorted(g for g in gaps if g[1] > g[0] and g[0] < stop)):
        timeline += [(gs, 0, n, (gs, ge)), (ge, -1, n, (gs, ge))]
    for n, ev in enumerate(events):
        timeline.append((ev.at, 2 if ev.kind == "snapshot" else 1, n, ev))
    current: Span | None = None
    for at, rank, _, item in sorted(timeline, key=lambda t: t[:3]):
        if isinstance(item, AgentEvent):
            if at <= stop or item.kind == "talk":
                replay.apply(item, current[0] if current is not None else None)
        elif at > stop:
            continue
        elif rank == 0:
            current = item
            replay.gap(item[0])
        elif current == item:
            replay.gap_end(item[1])
            current = None
    replay.finish(stop)

    out: list[AgentDay] = []
    days = _days(start, end, tz)
    for agent, a in sorted(replay.agents.items()):
        if not agent:
            continue
        login = merge(sp for spans in a.member.values() for sp in spans)
        paused = _paused_spans(a)
        talks = sorted(a.talks)
        talk_spans = merge((s, e) for s, e, _ in talks)
        wrap: list[tuple[datetime, datetime, str]] = []
        not_wrapup = [*talk_spans, *((s, t) for s, t, _ in paused)]
        for _, e, q in talks:
            seconds = wrapup.get(q, 0.0)
            if seconds > 0:
                w = intersect([(e, e + timedelta(seconds=seconds))], login)
                w = subtract(w, [*not_wrapup, *((s, t) for s, t, _ in wrap)])
                wrap += [(s, t, q) for s, t in w]
        unknown = merge(a.unknown)
        for day, lo, hi in days:
            d = AgentDay(agent, day)
            for s, e in login:
                if (c := _clip(s, e, lo, hi)) is not None:
                    d.login_seconds += _total([c])
                    d.intervals.append(Interval("logged_in", *c))
            for s, e, reason in paused:
                if (c := _clip(s, e, lo, hi)) is not None:
                    d.pause_seconds += _total([c])
                    d.pause_by_reason[reason] = d.pause_by_reason.get(reason, 0.0) + _total([c])
                    d.intervals.append(Interval("paused", *c, reason=reason))
            for s, e, q in talks:
                if lo <= e < hi:
                    d.calls += 1
                if (c := _clip(s, e, lo, hi)) is not None:
                    d.talk_seconds += _total([c])
                    d.intervals.append(Interval("talk", *c, queue=q))
            for s, e, q in wrap:
                if (c := _clip(s, e, lo, hi)) is not None:
                    d.wrapup_seconds += _total([c])
                    d.intervals.append(Interval("wrapup", *c, queue=q))
            for s, e in unknown:
                if (c := _clip(s, e, lo, hi)) is not None:
                    d.intervals.append(Interval("unknown", *c))
            for q in sorted(a.member):
                qd = QueueDay(
                    login_seconds=_total(
                        c for s, e in a.member[q] if (c := _clip(s, e, lo, hi)) is not None
                    ),
                    pause_seconds=_total(
                        c for s, e, _ in a.paused.get(q, []) if (c := _clip(s, e, lo, hi))
                    ),
                )
                if qd.login_seconds > 0:
                    d.queues[q] = qd
            if d.intervals:
                d.intervals.sort(key=lambda i: (i.start, i.kind))
                out.append(d)
    return out


def local_day_bounds(day: date, tz: ZoneInfo) -> datetime:
    """The start of the local ``day`` (UTC)."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)
