"""The daemon's side of the queue_log: read it as it grows (the PBX record's reader,
its own cursor) and record the agent activity its lines hold, off the event loop,
every ``poll_interval`` (docs/decisions/0016-queue-log.md).

Two steps, each durable: the reader stores every line in ``pbx_record`` (source
``qlog``, once by its hash, a damaged line kept and flagged); then the lines stored since
the cursor's ``reconciled_id`` are mapped to ``agent_events`` rows (source ``pbx``) and
the mark moved, in one transaction. A pass cut short anywhere is redone by the next, and
doubles nothing (both tables skip what they hold).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import structlog
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from callcenter.agents.pbxsource import MEMBER_EVENTS, PBX, events_of_line
from callcenter.agents.record import KEY, insert_rows, row_of
from callcenter.pbxrecord.queuelog import QueueLogParseError, parse_line
from callcenter.pbxrecord.reader import CURSOR, QUEUE_LOG, RECORD, QueueLogReader, load_cursor

log = structlog.get_logger("callcenter.agents")

BATCH = 2000


def record_from_queue_log(
    engine: Engine, server_id: str, names: Mapping[str, str], *, from_start: bool = False
) -> int:
    """Map the queue_log lines stored since the mark (every stored line with
    ``from_start``: a rebuild) to agent_events; returns the activity rows found (those
    already stored are skipped)."""
    found = 0
    after: int | None = 0 if from_start else None
    while True:
        with engine.connect() as conn:
            cur = load_cursor(conn, server_id, QUEUE_LOG)
            if cur is None:
                return found
            if after is None:
                after = cur.reconciled_id
            lines = conn.execute(
                select(RECORD.c.id, RECORD.c.eventtype, RECORD.c.line)
                .where(
                    RECORD.c.server_id == server_id,
                    RECORD.c.source == QUEUE_LOG,
                    RECORD.c.id > after,
                )
                .order_by(RECORD.c.id)
                .limit(BATCH)
            ).all()
        if not lines:
            return found
        by_key = {}
        for _id, eventtype, text in lines:
            if eventtype not in MEMBER_EVENTS:
                continue
            try:
                parsed = parse_line(text)
            except QueueLogParseError:
                continue  # stored as read, flagged UNPARSED; never here
            for ev in events_of_line(parsed, names):
                r = row_of(ev, server_id, PBX)
                by_key[tuple(r[k] for k in KEY)] = r
        with engine.begin() as conn:
            insert_rows(conn, list(by_key.values()))
            # Only the mark, and never back: the reader owns the rest of the cursor.
            conn.execute(
                update(CURSOR)
                .where(
                    CURSOR.c.server_id == server_id,
                    CURSOR.c.source == QUEUE_LOG,
                    CURSOR.c.reconciled_id < lines[-1][0],
                )
                .values(reconciled_id=lines[-1][0])
            )
        after = lines[-1][0]
        found += len(by_key)
        if len(lines) < BATCH:
            return found


class QueueLogFollower:
    def __init__(
        self,
        engine: Engine,
        reader: QueueLogReader,
        names: Mapping[str, str],
        poll_interval: float = 2.0,
    ) -> None:
        self.engine = engine
        self.reader = reader
        self.names = dict(names)
        self.poll_interval = poll_interval
        self.healthy = True
        self.recorded = 0  # activity rows found since the start

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.pass_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)

    async def pass_once(self) -> None:
        server = self.reader.server_id
        try:
            read = await asyncio.to_thread(self.reader.read_available)
            n = await asyncio.to_thread(record_from_queue_log, self.engine, server, self.names)
        except (SQLAlchemyError, OSError) as exc:
            # The database or the file is away: nothing moved, the next pass redoes it.
            if self.healthy:
                log.warning("queue_log.read_failed", error=type(exc).__name__)
            self.healthy = False
            return
        self.healthy = True
        self.recorded += n
        if n:
            log.info("queue_log.recorded", rows=n, lines=read.lines)
