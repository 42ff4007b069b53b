"""Agent activity from Asterisk's queue_log, and how it joins the AMI record. Pure: no
database, no clock (docs/decisions/0016-queue-log.md).

The queue_log is written by Asterisk whether the daemon runs or not, so it holds the
log-ins, log-outs, pauses (with their reasons) and calls' ends of the stretches the
daemon did not see. Its rows are stored in ``agent_events`` with ``source = 'pbx'`` and
take part in the figures only there:

- an AMI row always wins: a queue_log row counts only inside a stretch no AMI
  connection covered (a reconnect of a few seconds included), and not when an AMI row
  of the same agent, queue and kind is within ``SAME_FACT`` of it (the two are one
  fact, the AMI row has the finer time);
- such a stretch is filled (no longer ``unknown``) only when the daemon saw the PBX just
  before it (the state it starts from is known), for as long as the file had been read
  through, and up to Asterisk's first restart in it (QUEUESTART: static and persistent
  members come back without a line; the next resync says who is in) or lines lost with
  a rotation or truncation (a LOST mark).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callcenter.agents.activity import AgentEvent, Span, agent_of
from callcenter.pbxrecord.queuelog import QueueLogLine

PBX = "pbx"  # agent_events.source of the rows read from the queue_log
# An AMI row's time is when the daemon received the event; a queue_log row's is
# Asterisk's clock cut to the second: the same action lands up to ~1 s apart.
SAME_FACT = timedelta(seconds=2)
SECOND = timedelta(seconds=1)  # the queue_log's resolution
# The events that carry agent activity (the rest of the file is stored, not mapped).
MEMBER_EVENTS = frozenset(
    {
        "ADDMEMBER",
        "REMOVEMEMBER",
        "PAUSE",
        "UNPAUSE",
        "COMPLETEAGENT",
        "COMPLETECALLER",
        "BLINDTRANSFER",
        "ATTENDEDTRANSFER",
    }
)
# The line a stretch is known up to is itself known: the unknown begins just after it
# (an event at the very start of a gap would count as the agent seen again).
EDGE = timedelta(milliseconds=1)


def agent_names(agents: Iterable[tuple[str, str]]) -> dict[str, str]:
    """queue_log's agent field -> the agent id, from the configured (id, name) pairs.

    Asterisk 16 writes a PAUSE, UNPAUSE and call event with the member's name, which the
    daemon's QueueAdd and the rendered static members set to the agent's name. A name
    two agents share (or that is another agent's id) is left out: its lines stay under
    the name, never given to the wrong agent."""
    pairs = list(agents)
    ids = {i for i, _ in pairs}
    count: dict[str, int] = {}
    for _, name in pairs:
        count[name] = count.get(name, 0) + 1
    out = {name: i for i, name in pairs if count[name] == 1 and name not in ids}
    out.update({i: i for i in ids})
    return out


def agent_id(field: str, names: Mapping[str, str]) -> str:
    """An interface (ADDMEMBER / REMOVEMEMBER) as AMI's Interface is read; a member
    name through ``names``; anything else kept whole."""
    if "/" in field:
        return agent_of(field)
    return names.get(field, field)


# A queue call longer than a day is not one Asterisk timed (its field is "%ld" seconds).
MAX_TALK = 86_400


def _seconds(value: str) -> float:
    """Whole seconds as Asterisk writes them; anything else (``inf``, ``1e300``, ``-3``:
    a damaged or forged line) is 0, never a span the day's arithmetic cannot hold."""
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        return 0.0
    n = int(value)
    return float(n) if n <= MAX_TALK else 0.0


def events_of_line(line: QueueLogLine, names: Mapping[str, str]) -> list[AgentEvent]:
    """The activity one queue_log line holds (none for most lines)."""
    if line.event not in MEMBER_EVENTS:
        return []
    if line.queue in ("", "NONE") or line.agent in ("", "NONE"):
        return []  # PAUSEALL's per-queue PAUSE lines follow it: those are recorded
    at = datetime.fromtimestamp(line.time, UTC)
    agent = agent_id(line.agent, names)
    q = line.queue
    if line.event == "ADDMEMBER":
        return [AgentEvent(at, agent, q, "login", paused=line.field(1) == "PAUSED")]
    if line.event == "REMOVEMEMBER":
        return [AgentEvent(at, agent, q, "logout")]
    if line.event == "PAUSE":
        return [AgentEvent(at, agent, q, "pause", reason=line.rest)]
    if line.event == "UNPAUSE":
        return [AgentEvent(at, agent, q, "resume")]
    # The call's end: its talk time is the last but one field of each of these formats
    # (COMPLETE*: hold|talk|position; *TRANSFER: ...|hold|talk|position).
    talk = _seconds(line.data[-2]) if len(line.data) >= 3 else 0.0
    return [AgentEvent(at, agent, q, "talk", seconds=talk)]


def filled(
    gaps: Sequence[Span],
    *,
    since: datetime,
    record: Span | None,
    restarts: Sequence[Span] = (),
    holes: Sequence[Span] | None = None,
) -> tuple[list[Span], list[Span]]:
    """Of the AMI ``gaps`` (in a timeline that starts at ``since``), what stays unknown,
    and where the queue_log's rows may be used.

    ``record``: the queue_log's first line .. the moment it was last read through;
    ``restarts``: per QUEUESTART or LOST mark, (the line before it, the mark); ``holes``: the
    AMI gaps before short ones are merged away (coverage.SLACK), default ``gaps``: a
    pause in a reconnect of a few seconds is the queue_log's to tell.
    Returns (the holes the daemon had seen the PBX before, the unknown stretches)."""
    usable = [h for h in (gaps if holes is None else holes) if h[0] > since]
    unknown: list[Span] = []
    for gs, ge in gaps:
        if gs <= since or record is None or record[0] > gs:
            unknown.append((gs, ge))  # the state it starts in is not known
            continue
        cut = min(ge, max(gs, record[1] + EDGE))
        for before, mark in restarts:
            if before < ge and mark >= gs:  # [before, mark] meets the gap
                cut = min(cut, max(gs, min(before + EDGE, mark)))
        if cut < ge:
            unknown.append((cut, ge))
    return usable, unknown


def combine(rows: Iterable[tuple[str, AgentEvent]], usable: Sequence[Span]) -> list[AgentEvent]:
    """Every AMI row, and the queue_log rows inside ``usable`` (to their second) that no
    AMI row of the same agent, queue and kind within SAME_FACT already holds; in time
    order."""
    ami: list[AgentEvent] = []
    pbx: list[AgentEvent] = []
    for source, ev in rows:
        (pbx if source == PBX else ami).append(ev)
    times: dict[tuple[str, str, str], list[datetime]] = {}
    for ev in ami:
        times.setdefault((ev.agent, ev.queue, ev.kind), []).append(ev.at)
    for ts in times.values():
        ts.sort()
    spans = sorted(usable)
    starts = [s for s, _ in spans]
    out = list(ami)
    for ev in pbx:
        # A line stamped S happened in [S, S + 1 s): it is inside a stretch that began
        # within that second too.
        i = bisect.bisect_left(starts, ev.at + SECOND) - 1
        if i < 0 or spans[i][1] <= ev.at:
            continue
        ts = times.get((ev.agent, ev.queue, ev.kind), [])
        j = bisect.bisect_left(ts, ev.at - SAME_FACT)
        if j < len(ts) and ts[j] <= ev.at + SAME_FACT:
            continue  # the AMI row of the same action
        # No AMI row has it, so it came after AMI's sight ended: never before that.
        out.append(ev if ev.at >= spans[i][0] else replace(ev, at=spans[i][0]))
    out.sort(key=lambda e: e.at)
    return out
