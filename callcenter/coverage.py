"""Coverage: which stretches of time the record covers, and which no source did.

Two sources see calls: the daemon through AMI (while it runs and is connected: the
``coverage`` rows, kept by ``CoverageKeeper``), and Asterisk's own record (CEL, read up to
the cursor's ``read_until``; docs/decisions/0009). A period is complete when every
instant of it up to now is inside one of them; otherwise the figures name each
uncovered interval instead of silently leaving out what it hid.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine, Table, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from callcenter.store.models import CoverageRow, PbxCursor, PbxRecordRow

log = structlog.get_logger("callcenter.coverage")

COVERAGE: Table = CoverageRow.__table__  # type: ignore[assignment]
CURSOR: Table = PbxCursor.__table__  # type: ignore[assignment]
RECORD: Table = PbxRecordRow.__table__  # type: ignore[assignment]

Interval = tuple[datetime, datetime]


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def merge(intervals: Iterable[Interval], slack: timedelta = timedelta(0)) -> list[Interval]:
    """Sorted, non-overlapping; two intervals closer than ``slack`` become one."""
    out: list[Interval] = []
    for start, end in sorted((_utc(s), _utc(e)) for s, e in intervals if e >= s):
        if out and start <= out[-1][1] + slack:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def uncovered(start: datetime, end: datetime, covered: Iterable[Interval]) -> list[Interval]:
    """The parts of [start, end) that no interval of ``covered`` contains."""
    gaps: list[Interval] = []
    at = start
    for s, e in merge(covered):
        if e <= at:
            continue
        if s >= end:
            break
        if s > at:
            gaps.append((at, min(s, end)))
        at = max(at, e)
        if at >= end:
            break
    if at < end:
        gaps.append((at, end))
    return gaps


@dataclass
class ServerCoverage:
    server_id: str
    ami: list[Interval]
    record: Interval | None  # the PBX record: first event read .. read up to
    gaps: list[Interval]

    @property
    def complete(self) -> bool:
        return not self.gaps

    def to_dict(self) -> dict[str, Any]:
        def iv(i: Interval) -> dict[str, str]:
            return {"from": i[0].isoformat(), "to": i[1].isoformat()}

        return {
            "server": self.server_id,
            "complete": self.complete,
            "uncovered": [iv(g) for g in self.gaps],
            "ami": [iv(i) for i in self.ami],
            "pbx_record": iv(self.record) if self.record else None,
        }


# Heartbeats are this far apart: two AMI intervals closer than that are one.
SLACK = timedelta(seconds=20)


def query_coverage(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    server_id: str | None = None,
    now: datetime | None = None,
    slack: timedelta = SLACK,
) -> list[ServerCoverage]:
    """Each server's coverage of [start, end) (capped at now: the future is not a gap);
    AMI intervals closer than ``slack`` are one."""
    # In UTC: SQLite compares the stored UTC text, not instants.
    start = start.astimezone(UTC)
    end = min(end, now or datetime.now(UTC)).astimezone(UTC)
    with engine.connect() as conn:
        stmt = select(COVERAGE.c.server_id, COVERAGE.c.started_at, COVERAGE.c.ended_at).where(
            COVERAGE.c.started_at < end, COVERAGE.c.ended_at >= start
        )
        # Calls' coverage is CEL's: the queue_log sees agents, not calls (decision 0016).
        cursors = select(CURSOR.c.server_id, CURSOR.c.read_until).where(CURSOR.c.source == "cel")
        if server_id is not None:
            stmt = stmt.where(COVERAGE.c.server_id == server_id)
            cursors = cursors.where(CURSOR.c.server_id == server_id)
        ami_rows = conn.execute(stmt).all()
        until = {r[0]: r[1] for r in conn.execute(cursors) if r[1] is not None}
        # One server at a time: MIN over (server_id, event_time) is then an index probe,
        # where a GROUP BY would read the whole record.
        first = {}
        for sid in until:
            t = conn.execute(
                select(func.min(RECORD.c.event_time)).where(
                    RECORD.c.server_id == sid, RECORD.c.source == "cel"
                )
            ).scalar()
            if t is not None:
                first[sid] = t
    servers = {r[0] for r in ami_rows} | set(until)
    if server_id is not None:
        servers.add(server_id)
    out = []
    for sid in sorted(servers):
        ami = merge(((r[1], r[2]) for r in ami_rows if r[0] == sid), slack)
        record = (_utc(first[sid]), _utc(until[sid])) if sid in until and sid in first else None
        covered = [*ami, *([record] if record else [])]
        gaps = uncovered(start, end, covered) if start < end else []
        out.append(ServerCoverage(sid, ami, record, gaps))
    return out


# The queue_log's lines in pbx_record (pbxrecord.reader.QueueLogReader).
QUEUE_LOG = "qlog"


def queue_log_span(engine: Engine, server_id: str) -> Interval | None:
    """The stretch Asterisk's queue_log is known whole for: from its first line read to
    the moment a read last found its end (decision 0016); None when never read."""
    with engine.connect() as conn:
        until = conn.execute(
            select(CURSOR.c.read_until).where(
                CURSOR.c.server_id == server_id, CURSOR.c.source == QUEUE_LOG
            )
        ).scalar()
        if until is None:
            return None
        first = conn.execute(
            select(func.min(RECORD.c.event_time)).where(
                RECORD.c.server_id == server_id,
                RECORD.c.source == QUEUE_LOG,
                RECORD.c.eventtype.not_in(("UNPARSED", "LOST")),
            )
        ).scalar()
    return None if first is None else (_utc(first), _utc(until))


def queue_log_restarts(engine: Engine, server_id: str, start: datetime) -> list[Interval]:
    """The stretches the queue_log cannot vouch for, from ``start`` on: each Asterisk
    (re)start (its QUEUESTART line; Asterisk stopped somewhere after the line before it)
    and each LOST mark (lines rotated away or truncated before they were read), as
    (the time of the line read before it, its own time)."""
    start = start.astimezone(UTC)
    r = RECORD.c
    mine = (r.server_id == server_id) & (r.source == QUEUE_LOG)
    out: list[Interval] = []
    with engine.connect() as conn:
        marks = conn.execute(
            select(r.id, r.event_time)
            .where(
                mine,
                r.eventtype.in_(("QUEUESTART", "LOST")),
                # Not bounded by ``end``: a mark found later may cover a stretch before.
                r.event_time >= start,
            )
            .order_by(r.id)
        ).all()
        for rid, at in marks:
            # The line stored before it (file order): a LOST mark's time is when it was
            # found, and lines of the next file may carry earlier times.
            before = conn.execute(
                select(r.event_time)
                .where(mine, r.id < rid, r.eventtype.not_in(("UNPARSED", "LOST")))
                .order_by(r.id.desc())
                .limit(1)
            ).scalar()
            out.append((_utc(before if before is not None else at), _utc(at)))
    return out


class CoverageKeeper:
    """Records the intervals in which the daemon sees the PBX through AMI."""

    def __init__(
        self,
        engine: Engine,
        server_id: str,
        run_id: str,
        connected: Callable[[], int | None],
        interval: float = 5.0,
        tz: ZoneInfo | None = None,
    ) -> None:
        """``connected()``: the number of the current connection (its resync done), or
        None while the daemon is not connected."""
        self.engine = engine
        self.server_id = server_id
        self.run_id = run_id
        self.connected = connected
        self.interval = interval
        self._row: int | None = None
        self._conn: int | None = None
        self._wake = asyncio.Event()
        self.tz = tz or ZoneInfo("Asia/Tokyo")
        # Today so far, as last measured (for the wallboard: read from memory, never
        # from the database on the event loop).
        self.today: dict[str, Any] | None = None

    def wake(self) -> None:
        """A (re)connect's resync is done: open its interval now, not at the next tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        stopper = asyncio.ensure_future(stop.wait())
        stopper.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
        finally:
            stopper.cancel()
        await self.tick(final=True)

    async def tick(self, final: bool = False) -> None:
        now = datetime.now(UTC)
        conn = self.connected()
        try:
            if self._row is not None:
                if conn is not None and conn == self._conn:
                    await asyncio.to_thread(self._extend, self._row, now)
                if final or conn != self._conn:
                    # The link dropped (the interval ends at its last heartbeat: never
                    # later than what was seen), or the daemon stops.
                    self._row = None
            if not final and conn is not None and self._row is None:
                self._row = await asyncio.to_thread(self._open, now)
            self._conn = conn
            if not final:
                self.today = await asyncio.to_thread(self._today, now)
        except SQLAlchemyError as exc:
            # Kept open in memory, extended when the database is back.
            log.warning("coverage.write_failed", error=type(exc).__name__)

    def _today(self, now: datetime) -> dict[str, Any]:
        local = now.astimezone(self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        (mine,) = [
            c
            for c in query_coverage(self.engine, midnight, now, server_id=self.server_id, now=now)
            if c.server_id == self.server_id
        ]
        doc = mine.to_dict()
        return {"complete": doc["complete"], "uncovered": doc["uncovered"]}

    def _open(self, now: datetime) -> int:
        with self.engine.begin() as c:
            res = c.execute(
                insert(COVERAGE)
                .values(
                    server_id=self.server_id,
                    source="ami",
                    run_id=self.run_id,
                    started_at=now,
                    ended_at=now,
                )
                .returning(COVERAGE.c.id)
            )
            return int(res.scalar_one())

    def _extend(self, row: int, now: datetime) -> None:
        with self.engine.begin() as c:
            c.execute(update(COVERAGE).where(COVERAGE.c.id == row).values(ended_at=now))
