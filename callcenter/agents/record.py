"""The agent activity record (``agent_events``): written, rebuilt, and read into days.

Two sources. The AMI event log: the daemon records each activity event as it arrives
(``ActivityRecorder``, fed by the daemon's event path); ``rebuild_activity`` derives the
same rows from the stored events with the same mapper, and the daemon runs it over the
last day at every start, so rows a killed run had not written yet are not lost. Writing
skips a row already stored (same server, source, agent, queue, kind and time): live and
rebuilt rows are one. And Asterisk's queue_log (``source = 'pbx'``, agents/queuelog.py),
used only where AMI was not (agents/pbxsource.py, docs/decisions/0016).

``activity_by_agent`` is the reading side (the API and the monthly report): each agent's
figures per local day, with the stretches neither source covered named (coverage).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine, Table, and_, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from callcenter.agents.activity import (
    ACTIVITY_EVENTS,
    ActivityMapper,
    AgentDay,
    AgentEvent,
    Kind,
    Span,
    agent_days,
    local_day_bounds,
)
from callcenter.agents.pbxsource import combine, filled
from callcenter.backoff import backoff
from callcenter.coverage import (
    SLACK,
    query_coverage,
    queue_log_restarts,
    queue_log_span,
    uncovered,
)
from callcenter.store.db import insert_or_skip
from callcenter.store.models import AgentEventRow, AMIEvent
from callcenter.text import forbidden_character

log = structlog.get_logger("callcenter.agents")

AGENT_EVENTS: Table = AgentEventRow.__table__  # type: ignore[assignment]
EVENTS: Table = AMIEvent.__table__  # type: ignore[assignment]
KEY = ("server_id", "source", "agent", "queue", "kind", "at")
# Rows this long before the period are read whole (a talk's wrap-up, a pause begun just
# before); older state comes from the last row of each kind per agent and queue.
LEAD = timedelta(hours=1)
# A call that ends this long after the period may have begun inside it.
TAIL = timedelta(hours=12)
# At every start the daemon re-derives the record of this last stretch from the log.
CATCH_UP = timedelta(hours=24)
MAX_PENDING = 100_000


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _clean(text: str, limit: int) -> str:
    """What the database takes: control characters dropped, at most ``limit`` chars."""
    if forbidden_character(text) is not None:
        text = "".join(c for c in text if forbidden_character(c) is None)
    return text[:limit]


def row_of(ev: AgentEvent, server_id: str, source: str = "ami") -> dict[str, Any]:
    row = ev.to_row(server_id, source)
    row["agent"] = _clean(row["agent"], 80)
    row["queue"] = _clean(row["queue"], 64)
    row["reason"] = _clean(row["reason"], 200)
    return row


def write_events(
    engine: Engine, server_id: str, events: Sequence[AgentEvent], source: str = "ami"
) -> None:
    if not events:
        return
    # One row per key: a batch with a key twice would be refused by PostgreSQL's
    # ON CONFLICT (a row cannot be affected twice in one command).
    by_key = {}
    for e in events:
        r = row_of(e, server_id, source)
        by_key[tuple(r[k] for k in KEY)] = r
    rows = list(by_key.values())
    with engine.begin() as conn:
        insert_rows(conn, rows)


def insert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Rows of ``row_of``, one per key, in the caller's transaction; stored ones skipped."""
    stmt = insert_or_skip(conn.dialect.name, AGENT_EVENTS, KEY)
    for i in range(0, len(rows), 2000):
        conn.execute(stmt, rows[i : i + 2000])


def _from_row(r: Any) -> AgentEvent:
    kind: Kind = r.kind
    return AgentEvent(
        _utc(r.at), r.agent, r.queue, kind, r.reason, bool(r.paused), float(r.seconds)
    )


# -- rebuilding from the event log ------------------------------------------------------------


def events_from_log(
    engine: Engine, server_id: str, start: datetime, end: datetime, chunk: int = 20_000
) -> Iterator[AgentEvent]:
    """The activity the stored AMI events of [start, end) hold, in the order received."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)  # SQLite compares UTC text
    mapper = ActivityMapper()
    last: tuple[datetime, int] | None = None
    while True:
        stmt = (
            select(EVENTS.c.id, EVENTS.c.received_at, EVENTS.c.headers)
            .where(
                EVENTS.c.server_id == server_id,
                EVENTS.c.received_at >= start,
                EVENTS.c.received_at < end,
                EVENTS.c.event.in_(sorted(ACTIVITY_EVENTS)),
            )
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
        for _rid, at, headers in rows:
            yield from mapper.apply(dict(headers), _utc(at))
        if len(rows) < chunk:
            return
        last = (rows[-1][1], rows[-1][0])


def rebuild_activity(engine: Engine, server_id: str, start: datetime, end: datetime) -> int:
    """Derive the record of [start, end) from the stored events; returns the events
    found (those already recorded are skipped: run twice, the second run adds nothing)."""
    n = 0
    batch: list[AgentEvent] = []
    for ev in events_from_log(engine, server_id, start, end):
        batch.append(ev)
        n += 1
        if len(batch) >= 5000:
            write_events(engine, server_id, batch)
            batch = []
    write_events(engine, server_id, batch)
    return n


# -- reading --------------------------------------------------------------------------------


def load_events(
    engine: Engine, server_id: str, start: datetime, end: datetime
) -> list[tuple[str, AgentEvent]]:
    """What ``agent_days`` needs for [start, end), each row with its source: the rows of
    [start - LEAD, end), the talks that ended up to TAIL after, and before that the last
    row of each kind per agent, queue and source (the state the period starts in)."""
    lead = (start - LEAD).astimezone(UTC)
    end = end.astimezone(UTC)
    t = AGENT_EVENTS.c
    mine = t.server_id == server_id
    with engine.connect() as conn:
        # Per source: the latest queue_log row may be one the AMI row next to it holds.
        latest = (
            select(t.source, t.agent, t.queue, t.kind, func.max(t.at).label("at"))
            .where(mine, t.at < lead)
            .group_by(t.source, t.agent, t.queue, t.kind)
            .subquery()
        )
        before = conn.execute(
            select(AGENT_EVENTS)
            .join(
                latest,
                and_(
                    t.source == latest.c.source,
                    t.agent == latest.c.agent,
                    t.queue == latest.c.queue,
                    t.kind == latest.c.kind,
                    t.at == latest.c.at,
                ),
            )
            .where(mine, t.kind != "talk")
        ).all()
        # The resync lists those last marks belong to: their seen rows are needed whole.
        marks = {r.at for r in before if r.kind == "snapshot"}
        listed = (
            conn.execute(select(AGENT_EVENTS).where(mine, t.kind == "seen", t.at.in_(marks))).all()
            if marks
            else []
        )
        inside = conn.execute(
            select(AGENT_EVENTS)
            .where(
                mine,
                or_(
                    and_(t.at >= lead, t.at < end),
                    and_(t.kind == "talk", t.at >= end, t.at < end + TAIL),
                ),
            )
            .order_by(t.at, t.id)
        ).all()
    seen: set[tuple[Any, ...]] = set()
    out: list[tuple[str, AgentEvent]] = []
    for r in [*before, *listed, *inside]:
        key = (r.source, r.agent, r.queue, r.kind, _utc(r.at))
        if key not in seen:
            seen.add(key)
            out.append((r.source, _from_row(r)))
    out.sort(key=lambda e: e[1].at)
    return out


def _ami_gaps(
    engine: Engine,
    server_id: str,
    start: datetime,
    stop: datetime,
    now: datetime,
    slack: timedelta = SLACK,
) -> list[Span]:
    """The stretches of [start, stop) no AMI connection of the daemon covered. The last
    few seconds before now are not a gap: the open interval is extended every few
    seconds (coverage.CoverageKeeper)."""
    if stop <= start:
        return []
    covs = query_coverage(engine, start, stop, server_id=server_id, now=now, slack=slack)
    ami = [iv for c in covs if c.server_id == server_id for iv in c.ami]
    gaps = uncovered(start, stop, ami)
    if gaps and gaps[-1][1] >= now - timedelta(seconds=1) and gaps[-1][0] >= now - SLACK:
        gaps.pop()
    return gaps


def activity_by_agent(
    engine: Engine,
    server_id: str,
    tz: ZoneInfo,
    day_from: date,
    day_to: date,
    *,
    wrapup: Mapping[str, float] | None = None,
    agent: str | None = None,
    now: datetime | None = None,
) -> list[AgentDay]:
    """Each agent's figures (``AgentDay``, ``to_dict()`` is JSON-ready) for every local
    day of [day_from, day_to): the monthly report's and the API's source.

    ``wrapup``: each queue's wrapuptime in seconds (QueueConfig.wrapuptime).
    """
    now = now or datetime.now(UTC)
    start, end = local_day_bounds(day_from, tz), local_day_bounds(day_to, tz)
    rows = load_events(engine, server_id, start, end)
    since = min([start, *(e.at for _, e in rows)])
    stop = min(end, now)
    gaps = _ami_gaps(engine, server_id, since, stop, now)
    # What the daemon did not see, Asterisk's queue_log may hold (decision 0016); in
    # the holes of a quick reconnect too, which the coverage's slack merges away.
    holes = _ami_gaps(engine, server_id, since, stop, now, timedelta(0))
    usable, unknown = filled(
        gaps,
        since=since,
        record=queue_log_span(engine, server_id) if holes else None,
        restarts=queue_log_restarts(engine, server_id, since) if gaps else [],
        holes=holes,
    )
    events = combine(rows, usable)
    days = agent_days(events, start=start, end=end, tz=tz, now=now, gaps=unknown, wrapup=wrapup)
    return [d for d in days if agent is None or d.agent == agent]


# -- the daemon's recorder --------------------------------------------------------------------


class ActivityRecorder:
    """Takes the daemon's AMI events, writes their activity off the event loop.

    A database outage keeps the rows (up to MAX_PENDING; beyond, the oldest are dropped
    and logged: the event log still holds them, and a rebuild restores them) and retries
    with the bounded backoff.
    """

    def __init__(
        self,
        engine: Engine,
        server_id: str,
        *,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
        flush_interval: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.server_id = server_id
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.flush_interval = flush_interval
        self._sleep = sleep or asyncio.sleep
        self._mapper = ActivityMapper()
        self.unwritten: list[AgentEvent] = []
        self.dropped = 0
        self.stored = 0
        self.written = asyncio.Event()

    def apply(self, headers: Mapping[str, str], received: float) -> None:
        if headers.get("Event") not in ACTIVITY_EVENTS:
            return
        self.unwritten += self._mapper.apply(headers, received)
        over = len(self.unwritten) - MAX_PENDING
        if over > 0:
            del self.unwritten[:over]
            self.dropped += over
            log.error("activity.dropped", events=over, note="rebuild-activity restores them")

    async def catch_up(self, now: datetime | None = None) -> None:
        """Re-derive the last CATCH_UP of the record from the stored events (what an
        earlier run had not written when it was stopped or killed)."""
        now = now or datetime.now(UTC)
        try:
            n = await asyncio.to_thread(
                rebuild_activity, self.engine, self.server_id, now - CATCH_UP, now
            )
        except SQLAlchemyError as exc:
            log.warning("activity.catch_up_failed", error=type(exc).__name__)
            return
        log.info("activity.caught_up", events=n)

    async def run(self, stop: asyncio.Event) -> None:
        attempt = 0
        while True:
            batch, self.unwritten = self.unwritten, []
            if batch:
                try:
                    await asyncio.to_thread(write_events, self.engine, self.server_id, batch)
                except SQLAlchemyError as exc:
                    self.unwritten[:0] = batch
                    delay = backoff(attempt, self.retry_min, self.retry_max)
                    attempt += 1
                    log.warning(
                        "activity.write_failed",
                        events=len(batch),
                        error=type(exc).__name__,
                        retry_in=round(delay, 2),
                    )
                    if stop.is_set():
                        return
                    await self._sleep(delay)
                    continue
                except BaseException:
                    self.unwritten[:0] = batch
                    raise
                attempt = 0
                self.stored += len(batch)
                self.written.set()
            if stop.is_set() and not self.unwritten:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_interval)
