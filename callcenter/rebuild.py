"""Re-derive a period's call records from the stored record.

The calls table is derived data. ``rebuild_calls`` replays the stored AMI events of a
period through a fresh ``CallTracker`` (the live daemon's rules and definitions), then
classifies from the PBX record (CEL) the calls the events do not hold whole: those of
a gap, or those that the PBX record had completed before. Writing is an upsert by
(server, linkedid), so a rebuild is idempotent: run twice, it changes nothing the
second time. It reports the outcome counts before and after, and each call that moved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, Table, func, select

from callcenter.config import Config
from callcenter.metrics.definitions import definitions_of
from callcenter.pbxrecord.reader import RECORD
from callcenter.pbxrecord.reconcile import classifier_for, day_bounds
from callcenter.store.calls import write_calls
from callcenter.store.models import AMIEvent, Call
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.tracker import TRACKED_EVENTS, CallTracker

EVENTS: Table = AMIEvent.__table__  # type: ignore[assignment]
CALLS: Table = Call.__table__  # type: ignore[assignment]
# Events this long either side of the period are replayed too: a call that arrived in
# the period may end after it (its Hangup is needed), and the tracker must have seen the
# calls already open when the period starts. Only calls that arrived inside are written.
MARGIN = timedelta(hours=6)
Progress = Callable[[int, int], None]


@dataclass
class Moved:
    linkedid: str
    before: str | None
    after: str


@dataclass
class RebuildReport:
    day_from: str
    day_to: str
    events: int = 0
    from_events: int = 0
    from_record: int = 0
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    moved: list[Moved] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        outcomes = sorted(set(self.before) | set(self.after))
        return {
            "from": self.day_from,
            "to": self.day_to,
            "events_replayed": self.events,
            "calls_from_events": self.from_events,
            "calls_from_pbx_record": self.from_record,
            "outcomes": {o: {"before": self.before[o], "after": self.after[o]} for o in outcomes},
            "moved": [m.__dict__ for m in self.moved],
        }


def _stored(
    engine: Engine, server_id: str, day_from: str, day_to: str
) -> dict[str, tuple[str, str | None, bool, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                CALLS.c.linkedid, CALLS.c.outcome, CALLS.c.agent, CALLS.c.estimated, CALLS.c.source
            ).where(
                CALLS.c.server_id == server_id,
                CALLS.c.local_day >= day_from,
                CALLS.c.local_day < day_to,
            )
        ).all()
    return {r[0]: (r[1], r[2], bool(r[3]), r[4]) for r in rows}


def _events(
    engine: Engine, server_id: str, start: datetime, end: datetime, chunk: int = 20_000
) -> Iterator[tuple[dict[str, str], float, str]]:
    """The period's unsolicited events in the order they were received, in chunks."""
    last: tuple[datetime, int] | None = None
    while True:
        stmt = (
            select(EVENTS.c.id, EVENTS.c.received_at, EVENTS.c.headers, EVENTS.c.run_id)
            .where(*_tracked(server_id, start, end))
            .order_by(EVENTS.c.received_at, EVENTS.c.id)
            .limit(chunk)
        )
        if last is not None:
            at, rid = last
            stmt = stmt.where(
                (EVENTS.c.received_at > at) | ((EVENTS.c.received_at == at) & (EVENTS.c.id > rid))
            )
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        for _rid, at, headers, run in rows:
            t = at if at.tzinfo else at.replace(tzinfo=UTC)
            yield dict(headers), t.timestamp(), run
        if len(rows) < chunk:
            return
        last = (rows[-1][1], rows[-1][0])


def _tracked(server_id: str, start: datetime, end: datetime) -> list[ColumnElement[bool]]:
    """The stored events a replay needs: unsolicited ones of the types the tracker reads
    (half the stream is events it skips: those are not even decoded)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # SQLite compares UTC text
    return [
        EVENTS.c.server_id == server_id,
        EVENTS.c.received_at >= start,
        EVENTS.c.received_at < end,
        EVENTS.c.action_id.is_(None),
        EVENTS.c.event.in_(sorted(TRACKED_EVENTS)),
    ]


def _count_events(engine: Engine, server_id: str, start: datetime, end: datetime) -> int:
    with engine.connect() as conn:
        stmt = select(func.count()).select_from(EVENTS).where(*_tracked(server_id, start, end))
        return int(conn.execute(stmt).scalar_one())


def calls_from_events(
    engine: Engine, cfg: Config, start: datetime, end: datetime, progress: Progress | None = None
) -> tuple[list[CallRecord], int]:
    """Every call that arrived in [start, end), classified from the stored AMI events."""
    tracker = CallTracker(
        cfg.server.id,
        short_abandon_seconds=cfg.metrics.short_abandon_seconds,
        agent_names={a.id: a.name for a in cfg.agents},
        definitions=definitions_of(cfg.metrics),
    )
    total = _count_events(engine, cfg.server.id, start - MARGIN, end + MARGIN) if progress else 0
    lo, hi = start.timestamp(), end.timestamp()
    out: list[CallRecord] = []
    n = 0
    # The daemon run that saw each open call begin: one that ends in another run spans a
    # restart, and what happened in between is not in these events.
    began: dict[str, str] = {}
    for headers, received, run in _events(engine, cfg.server.id, start - MARGIN, end + MARGIN):
        done = tracker.feed(headers, received)
        if headers.get("Event") == "Newchannel" and headers.get("Uniqueid") in tracker.calls:
            began.setdefault(headers["Uniqueid"], run)
        if done is not None:
            if began.pop(done.linkedid, run) != run:
                done.estimated = True
            if lo <= done.arrived_at < hi:
                out.append(done)
        n += 1
        if progress is not None and n % 5000 == 0:
            progress(n, total)
    if progress is not None:
        progress(n, max(n, total))
    return out, n


def rebuild_calls(
    engine: Engine, cfg: Config, day_from: date, day_to: date, progress: Progress | None = None
) -> RebuildReport:
    tz = ZoneInfo(cfg.service.timezone)
    start, _ = day_bounds(day_from, tz)
    end, _ = day_bounds(day_to, tz)
    report = RebuildReport(day_from.isoformat(), day_to.isoformat())
    before = _stored(engine, cfg.server.id, report.day_from, report.day_to)
    report.before = Counter(v[0] for v in before.values())
    calls, report.events = calls_from_events(engine, cfg, start, end, progress)
    seen = {c.linkedid for c in calls}
    report.from_events = len(calls)
    # The PBX record: the period's inbound calls the events do not hold whole, and those
    # that were completed from it before (re-classified with today's definitions).
    with engine.connect() as conn:
        starts = conn.execute(
            select(RECORD.c.linkedid).where(
                RECORD.c.server_id == cfg.server.id,
                RECORD.c.source == "cel",  # the CEL lines, not the queue_log's
                RECORD.c.eventtype == "CHAN_START",
                RECORD.c.uniqueid == RECORD.c.linkedid,
                RECORD.c.event_time >= start,
                RECORD.c.event_time < end,
            )
        ).all()
    # The record is taken for the calls the events do not hold whole: those they lack,
    # those they hold only across a restart, and those completed from it before.
    partial = {c.linkedid for c in calls if c.estimated}

    def from_the_record(lid: str) -> bool:
        old = before.get(lid)
        if lid in seen and lid not in partial:
            return old is not None and (old[2] or old[3] == "pbx")
        return old is None or old[2] or old[3] == "pbx"

    wanted = [r.linkedid for r in starts if from_the_record(r.linkedid)]
    cls = classifier_for(cfg.server.id, cfg.service, cfg.metrics, cfg.agents)
    from_record = cls.calls_for(engine, wanted) if wanted else []
    recorded = {c.linkedid for c in from_record}
    calls = [c for c in calls if c.linkedid not in recorded]
    report.from_events = len(calls)
    report.from_record = len(from_record)
    rows = [call_row(c, tz) for c in calls] + [call_row(c, tz, source="pbx") for c in from_record]
    for i in range(0, len(rows), 2000):
        write_calls(engine, rows[i : i + 2000])
    after = _stored(engine, cfg.server.id, report.day_from, report.day_to)
    report.after = Counter(v[0] for v in after.values())
    for lid, (outcome, agent, _, _) in sorted(after.items()):
        old = before.get(lid)
        if old is None or (old[0], old[1]) != (outcome, agent):
            report.moved.append(Moved(lid, old[0] if old else None, outcome))
    return report


def open_call_events(
    engine: Engine, server_id: str, since: datetime
) -> list[tuple[dict[str, str], float]]:
    """The stored events of the calls an earlier run left open: the caller channel's
    Newchannel is stored, its Hangup is not, and the call has no record. A restarted
    daemon feeds them to its tracker before the first resync, so a call still up keeps
    its real arrival, queue and answer times instead of estimates from the snapshot."""
    since = since.astimezone(UTC)  # SQLite compares the stored UTC text
    with engine.connect() as conn:
        started = {
            r[0]
            for r in conn.execute(
                select(EVENTS.c.linkedid).where(
                    EVENTS.c.server_id == server_id,
                    EVENTS.c.event == "Newchannel",
                    EVENTS.c.uniqueid == EVENTS.c.linkedid,
                    EVENTS.c.received_at >= since,
                )
            )
        }
        if not started:
            return []
        ended = {
            r[0]
            for r in conn.execute(
                select(EVENTS.c.uniqueid).where(
                    EVENTS.c.server_id == server_id,
                    EVENTS.c.event == "Hangup",
                    EVENTS.c.received_at >= since,
                )
            )
        }
        open_ids = sorted(started - ended)
        known: set[str] = set()
        for i in range(0, len(open_ids), 500):
            known |= {
                r[0]
                for r in conn.execute(
                    select(CALLS.c.linkedid).where(
                        CALLS.c.server_id == server_id,
                        CALLS.c.linkedid.in_(open_ids[i : i + 500]),
                    )
                )
            }
        wanted = [lid for lid in open_ids if lid not in known]
        out: list[tuple[dict[str, str], float]] = []
        for i in range(0, len(wanted), 500):
            rows = conn.execute(
                select(EVENTS.c.received_at, EVENTS.c.headers)
                .where(
                    EVENTS.c.server_id == server_id,
                    EVENTS.c.linkedid.in_(wanted[i : i + 500]),
                    EVENTS.c.received_at >= since,
                    EVENTS.c.action_id.is_(None),
                    EVENTS.c.event.in_(sorted(TRACKED_EVENTS)),
                )
                .order_by(EVENTS.c.received_at, EVENTS.c.id)
            ).all()
            out += [(dict(h), (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp())
                    for at, h in rows]  # fmt: skip
    out.sort(key=lambda eh: eh[1])
    return out
