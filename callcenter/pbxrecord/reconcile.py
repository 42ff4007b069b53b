"""Complete the calls table from the PBX record: calls the daemon missed or estimated.

After any gap (the daemon stopped or killed, the AMI link cut, Asterisk restarted)
the CEL file still has every call. Each call whose caller channel has hung up in the
record (and settled: the live path had time to write it) is checked against the calls
table; one that is missing, or stored only as an estimate (opened or ended by a
resync, ``unknown``), is classified from the record with the live tracker's rules and
written with its real times (``estimated = false``, ``source = 'pbx'``). A call seen
live keeps its live record: the AMI stream also has hold times, which CEL lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, and_, select

from callcenter.dialplan.settings import AgentConfig
from callcenter.metrics.settings import MetricsConfig
from callcenter.pbxrecord.cel import UNUSED, CelParseError, CelRow, build_calls, parse_line
from callcenter.pbxrecord.reader import RECORD, SOURCE, Cursor, load_cursor, save_cursor
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.calls import upsert_statement
from callcenter.store.models import Call
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, definitions_key

CALLS: Table = Call.__table__  # type: ignore[assignment]
BATCH = 2000
DAY_SLICE = 2000


def _parsed(line: str) -> CelRow | None:
    try:
        return parse_line(line)
    except CelParseError:
        return None  # stored as UNPARSED, with its reason


@dataclass
class Classifier:
    server_id: str
    tz: ZoneInfo
    short_abandon_seconds: float
    agent_names: Mapping[str, str] = field(default_factory=dict)
    definitions: str = ""

    def calls_for(self, engine: Engine, linkedids: Sequence[str]) -> list[CallRecord]:
        rows: list[CelRow] = []
        for i in range(0, len(linkedids), 500):
            part = list(linkedids[i : i + 500])
            with engine.connect() as conn:
                found = conn.execute(
                    select(RECORD.c.line)
                    .where(
                        RECORD.c.server_id == self.server_id,
                        RECORD.c.source == SOURCE,  # not the queue_log's lines
                        RECORD.c.linkedid.in_(part),
                        RECORD.c.eventtype.not_in(sorted(UNUSED)),
                    )
                    .order_by(RECORD.c.id)
                ).all()
            rows += [r for (line,) in found if (r := _parsed(line)) is not None]
        built = build_calls(
            rows,
            self.server_id,
            short_abandon_seconds=self.short_abandon_seconds,
            agent_names=self.agent_names,
            definitions=self.definitions,
        )
        return built.finished


def classifier_for(
    server_id: str, service: ServiceConfig, metrics: MetricsConfig, agents: Iterable[AgentConfig]
) -> Classifier:
    """The live tracker's rules and definitions, from the settings."""
    m = metrics
    return Classifier(
        server_id,
        ZoneInfo(service.timezone),
        m.short_abandon_seconds,
        {a.id: a.name for a in agents},
        definitions_key(m.short_abandon_seconds, m.service_level_seconds),
    )


@dataclass
class StoredCall:
    linkedid: str
    estimated: bool
    outcome: str
    agent: str | None
    queue: str | None
    source: str


def stored_calls(engine: Engine, server_id: str, linkedids: Iterable[str]) -> dict[str, StoredCall]:
    ids = list(linkedids)
    out: dict[str, StoredCall] = {}
    for i in range(0, len(ids), 500):
        with engine.connect() as conn:
            for r in conn.execute(
                select(
                    CALLS.c.linkedid,
                    CALLS.c.estimated,
                    CALLS.c.outcome,
                    CALLS.c.agent,
                    CALLS.c.queue,
                    CALLS.c.source,
                ).where(CALLS.c.server_id == server_id, CALLS.c.linkedid.in_(ids[i : i + 500]))
            ):
                out[r.linkedid] = StoredCall(
                    r.linkedid, bool(r.estimated), r.outcome, r.agent, r.queue, r.source
                )
    return out


def needs_record(stored: StoredCall | None) -> bool:
    """A missing call, or one the daemon could only estimate, takes the PBX record's."""
    return stored is None or stored.estimated or stored.outcome == "unknown"


def write_from_record(engine: Engine, calls: list[CallRecord], tz: ZoneInfo) -> None:
    rows = [call_row(c, tz, source="pbx") for c in calls]
    if rows:
        with engine.begin() as conn:
            conn.execute(upsert_statement(engine), rows)


@dataclass
class PassResult:
    checked: int = 0
    written: list[CallRecord] = field(default_factory=list)
    added: set[str] = field(default_factory=set)  # linkedids that had no record at all

    @property
    def replaced(self) -> int:
        """Of the written, how many replaced an estimate."""
        return len(self.written) - len(self.added)


def reconcile_pending(engine: Engine, cls: Classifier, settle_before: datetime) -> PassResult:
    """Check every caller hang-up read since the last pass and settled by now."""
    res = PassResult()
    with engine.connect() as conn:
        cur = load_cursor(conn, cls.server_id)
    if cur is None:
        return res
    while True:
        with engine.connect() as conn:
            hangups = conn.execute(
                select(RECORD.c.id, RECORD.c.linkedid, RECORD.c.read_at)
                .where(
                    RECORD.c.server_id == cls.server_id,
                    RECORD.c.source == SOURCE,
                    RECORD.c.id > cur.reconciled_id,
                    RECORD.c.eventtype == "HANGUP",
                    RECORD.c.uniqueid == RECORD.c.linkedid,
                )
                .order_by(RECORD.c.id)
                .limit(BATCH)
            ).all()
        settled = []
        for h in hangups:
            # Settled on the daemon's clock (when it read the line), not the PBX's.
            t = h.read_at if h.read_at.tzinfo else h.read_at.replace(tzinfo=UTC)
            if t >= settle_before:
                break
            settled.append(h)
        if not settled:
            return res
        _check(engine, cls, [h.linkedid for h in settled], res)
        cur.reconciled_id = settled[-1].id
        with engine.begin() as conn:
            # Only the reconcile mark: the reader owns inode and offset.
            fresh = load_cursor(conn, cls.server_id) or cur
            save_cursor(
                conn,
                cls.server_id,
                Cursor(fresh.path, fresh.inode, fresh.offset, cur.reconciled_id, fresh.read_until),
            )
        if len(settled) < len(hangups) or len(hangups) < BATCH:
            return res


def _check(engine: Engine, cls: Classifier, linkedids: list[str], res: PassResult) -> None:
    res.checked += len(linkedids)
    stored = stored_calls(engine, cls.server_id, linkedids)
    todo = [lid for lid in linkedids if needs_record(stored.get(lid))]
    if not todo:
        return
    calls = cls.calls_for(engine, todo)
    write_from_record(engine, calls, cls.tz)
    res.written += calls
    res.added |= {c.linkedid for c in calls if c.linkedid not in stored}


@dataclass
class Difference:
    linkedid: str
    action: str  # added | replaced | differs | not_in_record
    before: str | None
    after: str | None
    detail: str = ""


@dataclass
class DayReport:
    day: str
    in_record: int = 0
    in_calls: int = 0
    differences: list[Difference] = field(default_factory=list)
    written: list[CallRecord] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for d in self.differences if d.action == action)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def reconcile_day(engine: Engine, cls: Classifier, day: date) -> DayReport:
    """Check a whole local day against the PBX record; fix what is missing or estimated."""
    report = DayReport(day.isoformat())
    start, end = day_bounds(day, cls.tz)
    with engine.connect() as conn:
        starts = conn.execute(
            select(RECORD.c.linkedid).where(
                and_(
                    RECORD.c.server_id == cls.server_id,
                    RECORD.c.source == SOURCE,
                    RECORD.c.eventtype == "CHAN_START",
                    RECORD.c.uniqueid == RECORD.c.linkedid,
                    RECORD.c.event_time >= start,
                    RECORD.c.event_time < end,
                )
            )
        ).all()
        day_calls = conn.execute(
            select(CALLS.c.linkedid).where(
                CALLS.c.server_id == cls.server_id, CALLS.c.local_day == day.isoformat()
            )
        ).all()
    in_record: set[str] = set()
    ids = [r.linkedid for r in starts]
    # In slices: a day's record is a few hundred thousand rows, never all in memory.
    for i in range(0, len(ids), DAY_SLICE):
        part = cls.calls_for(engine, ids[i : i + DAY_SLICE])
        in_record |= {c.linkedid for c in part}
        stored = stored_calls(engine, cls.server_id, [c.linkedid for c in part])
        fix: list[CallRecord] = []
        for call in sorted(part, key=lambda c: c.arrived_at):
            before = stored.get(call.linkedid)
            after = call.outcome.value if call.outcome else None
            if needs_record(before):
                action = "added" if before is None else "replaced"
                report.differences.append(
                    Difference(call.linkedid, action, before.outcome if before else None, after)
                )
                fix.append(call)
            elif before is not None and (before.outcome, before.agent) != (after, call.agent):
                report.differences.append(
                    Difference(
                        call.linkedid,
                        "differs",
                        before.outcome,
                        after,
                        f"agent {before.agent!r} live, {call.agent!r} in the record; live kept",
                    )
                )
        write_from_record(engine, fix, cls.tz)
        report.written += fix
    report.in_record = len(in_record)
    missing = [r.linkedid for r in day_calls if r.linkedid not in in_record]
    stored = stored_calls(engine, cls.server_id, missing)
    report.in_calls = len(day_calls)
    for lid in missing:
        s = stored[lid]
        report.differences.append(Difference(lid, "not_in_record", s.outcome, None))
    return report
