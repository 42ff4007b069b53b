"""Read Asterisk's CEL file into the store with a durable cursor.

The cursor (file inode and byte offset) is saved in the same transaction as the rows
it covers, so a crash between the two can neither skip nor double a line; and each
line is stored once by its hash whatever reads it again (a rotation, a truncation, a
restored database). Only whole lines are read: Asterisk may be half-way through one.

Rotation: when the file at ``path`` has another inode than the cursor's, the rest of
the old file is read first if it is still beside it (``callcenter.csv.1`` or any
``callcenter.csv*``), then the new file from its start.

Two files are read this way, each with its own cursor (``source``): the CEL file
(``CelFileReader``) and the queue_log (``QueueLogReader``, docs/decisions/0016).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, Table, func, select, update
from sqlalchemy.engine import Connection

from callcenter.pbxrecord.cel import CelParseError, parse_line
from callcenter.pbxrecord.queuelog import QueueLogParseError
from callcenter.pbxrecord.queuelog import parse_line as parse_queue_log
from callcenter.store.db import insert_or_skip
from callcenter.store.models import PbxCursor, PbxRecordRow

log = structlog.get_logger("callcenter.pbxrecord")

RECORD: Table = PbxRecordRow.__table__  # type: ignore[assignment]
CURSOR: Table = PbxCursor.__table__  # type: ignore[assignment]
SOURCE = "cel"
QUEUE_LOG = "qlog"
LOST = "LOST"  # the mark of queue_log lines that may never be read (rotated or truncated)
CHUNK_BYTES = 4 << 20
# Lines are written in time order, but two threads may stamp a second, then write in the
# other order (ast_queue_log takes time(NULL) before the file's lock): some slack.
OUT_OF_ORDER = timedelta(seconds=5)
FUTURE = timedelta(hours=1)  # another host's clock may run ahead a little, not this much
# How often a read that found the queue_log's end says so (its read_until): the queue_log
# is then known whole up to that moment, even when nothing was written for hours.
MARK_EVERY = timedelta(seconds=5)


@dataclass
class ReadResult:
    lines: int = 0
    stored: int = 0
    bad: int = 0
    bytes: int = 0

    def __iadd__(self, other: ReadResult) -> ReadResult:
        self.lines += other.lines
        self.stored += other.stored
        self.bad += other.bad
        self.bytes += other.bytes
        return self


@dataclass
class Cursor:
    path: str
    inode: int
    offset: int
    reconciled_id: int
    read_until: datetime | None


def _clip(value: str, n: int) -> str:
    return value[:n]


def record_row(server_id: str, raw: bytes, read_at: datetime | None = None) -> dict[str, Any]:
    """The stored form of one line; a line that does not parse is kept whole, flagged."""
    read_at = read_at or datetime.now(UTC)
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")  # PostgreSQL text refuses NUL
    # The hash is of the bytes as read: the identity of the line, whatever was replaced.
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    try:
        row = parse_line(text)
    except CelParseError as exc:
        return {
            "server_id": server_id,
            "source": SOURCE,
            "line_hash": digest,
            "event_time": read_at,
            "read_at": read_at,
            "eventtype": "UNPARSED",
            "uniqueid": "",
            "linkedid": "",
            "line": text,
            "note": str(exc)[:200],
        }
    return {
        "server_id": server_id,
        "source": SOURCE,
        "line_hash": digest,
        "event_time": datetime.fromtimestamp(row.eventtime, UTC),
        "read_at": read_at,
        "eventtype": _clip(row.eventtype, 40),
        "uniqueid": _clip(row.uniqueid, 64),
        "linkedid": _clip(row.linkedid, 64),
        "line": text,
        "note": None,
    }


def queue_log_row(server_id: str, raw: bytes, read_at: datetime | None = None) -> dict[str, Any]:
    """The stored form of one queue_log line: ``eventtype`` is its event, ``uniqueid``
    its callid; ``linkedid`` stays empty (no CEL call is ever looked up by it)."""
    read_at = read_at or datetime.now(UTC)
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    row = {
        "server_id": server_id,
        "source": QUEUE_LOG,
        "line_hash": digest,
        "event_time": read_at,
        "read_at": read_at,
        "eventtype": "UNPARSED",
        "uniqueid": "",
        "linkedid": "",
        "line": text.replace("\x00", "\ufffd"),  # PostgreSQL text refuses NUL
        "note": None,
    }
    try:
        line = parse_queue_log(text)
    except QueueLogParseError as exc:
        row["note"] = str(exc)[:200]
        return row
    row["event_time"] = datetime.fromtimestamp(line.time, UTC)
    row["eventtype"] = line.event
    row["uniqueid"] = _clip(line.callid, 64)
    return row


def load_cursor(conn: Connection, server_id: str, source: str = SOURCE) -> Cursor | None:
    r = conn.execute(
        select(
            CURSOR.c.path,
            CURSOR.c.inode,
            CURSOR.c.offset,
            CURSOR.c.reconciled_id,
            CURSOR.c.read_until,
        ).where(CURSOR.c.server_id == server_id, CURSOR.c.source == source)
    ).first()
    if r is None:
        return None
    until = r.read_until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return Cursor(r.path, r.inode, r.offset, r.reconciled_id, until)


def save_cursor(conn: Connection, server_id: str, cur: Cursor, source: str = SOURCE) -> None:
    values = {
        "path": cur.path,
        "inode": cur.inode,
        "offset": cur.offset,
        "reconciled_id": cur.reconciled_id,
        "read_until": cur.read_until,
        "updated_at": datetime.now(UTC),
    }
    done = conn.execute(
        update(CURSOR)
        .where(CURSOR.c.server_id == server_id, CURSOR.c.source == source)
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(CURSOR.insert().values(server_id=server_id, source=source, **values))


class RecordFileReader:
    """One append-only file of the PBX record into ``pbx_record``, with its own cursor."""

    source = SOURCE
    # Whether reaching the file's end moves read_until to that moment (queue_log).
    marks_read_through = False

    def __init__(self, engine: Engine, server_id: str, path: Path) -> None:
        self.engine = engine
        self.server_id = server_id
        self.path = path
        self._insert = insert_or_skip(engine.dialect.name, RECORD, ("server_id", "line_hash"))
        self._progress: Callable[[int, int], None] | None = None
        self._at_end = False  # the last read ended on a whole line at the file's end
        self._marked: datetime | None = None

    def row_of(self, raw: bytes, read_at: datetime) -> dict[str, Any]:
        return record_row(self.server_id, raw, read_at)

    def vet(
        self, rows: list[dict[str, Any]], floor: datetime | None, now: datetime
    ) -> datetime | None:
        """Set aside (as UNPARSED) rows that cannot be where they are; returns the
        newest time read so far."""
        return floor

    def newest_line(self) -> datetime | None:
        return None

    def note_lost(self, cur: Cursor, why: str) -> None:
        """Lines may have been lost (rotation, truncation): the warning says so."""

    def read_available(
        self,
        max_bytes: int = 64 << 20,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReadResult:
        """Store every whole line not read yet (up to ``max_bytes`` this call);
        ``progress(bytes read, bytes to read)`` after each chunk."""
        self._progress = progress
        total = ReadResult()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return total  # no call since Asterisk started writing it: nothing yet
        with self.engine.connect() as conn:
            cur = load_cursor(conn, self.server_id, self.source)
        if cur is not None and cur.inode != st.st_ino:
            old = self._rotated(cur.inode)
            if old is not None:
                total += self._read_file(old, cur, max_bytes)
            if old is None:
                # Rotated away (compressed, moved elsewhere) before its end was read:
                # what was left of it is not in the store; say so loudly.
                log.warning(
                    "pbxrecord.rotated_unread",
                    path=str(self.path),
                    inode=cur.inode,
                    offset=cur.offset,
                    note="run `callcenter reconcile --day` on a copy of the old file",
                )
                self.note_lost(cur, "rotated away before its end was read")
            else:
                log.info("pbxrecord.rotated", path=str(self.path), old=str(old))
            cur = Cursor(str(self.path), st.st_ino, 0, cur.reconciled_id, cur.read_until)
        if cur is None:
            cur = Cursor(str(self.path), st.st_ino, 0, 0, None)
        if st.st_size < cur.offset:
            log.warning("pbxrecord.truncated", path=str(self.path), had=cur.offset)
            self.note_lost(cur, "truncated before its end was read")
            cur.offset = 0
        started = datetime.now(UTC)
        total += self._read_file(self.path, cur, max_bytes - total.bytes)
        if self.marks_read_through and self._at_end:
            self._mark(cur, started)
        return total

    def _mark(self, cur: Cursor, started: datetime) -> None:
        """Every line written before this read began is stored: say so (less a second,
        as the file's times are whole seconds). At most every MARK_EVERY."""
        if self._marked is not None and started - self._marked < MARK_EVERY:
            return
        through = started - timedelta(seconds=1)
        if cur.read_until is not None and cur.read_until >= through:
            return
        cur.read_until = through
        with self.engine.begin() as conn:
            save_cursor(conn, self.server_id, cur, self.source)
        self._marked = started

    def _rotated(self, inode: int) -> Path | None:
        for p in sorted(self.path.parent.glob(self.path.name + "*")):
            try:
                if p.stat().st_ino == inode and p != self.path:
                    return p
            except OSError:
                continue
        return None

    def _read_file(self, path: Path, cur: Cursor, max_bytes: int) -> ReadResult:
        res = ReadResult()
        self._at_end = False
        with path.open("rb") as f:
            inode = os.fstat(f.fileno()).st_ino
            if inode != cur.inode:
                cur.inode, cur.offset = inode, 0
            # The newest line read before (lines are written in time order), looked up
            # once there is something to compare with it.
            continuing, floor, looked = cur.offset > 0, None, False
            while res.bytes < max_bytes:
                f.seek(cur.offset)
                chunk = f.read(min(CHUNK_BYTES, max_bytes - res.bytes))
                end = chunk.rfind(b"\n")
                if end < 0:
                    # Nothing more, or a line Asterisk is still writing.
                    self._at_end = not chunk and path == self.path
                    break
                lines = [ln for ln in chunk[: end + 1].split(b"\n") if ln.strip()]
                now = datetime.now(UTC)
                rows = [self.row_of(ln, now) for ln in lines]
                if continuing and not looked:
                    floor, looked = self.newest_line(), True
                floor = self.vet(rows, floor, now)
                bad = sum(1 for r in rows if r["eventtype"] == "UNPARSED")
                cur.offset += end + 1
                cur.path = str(self.path)
                times = [r["event_time"] for r in rows if r["eventtype"] != "UNPARSED"]
                if times:
                    newest = max(times)
                    cur.read_until = max(newest, cur.read_until or newest)
                with self.engine.begin() as conn:
                    stored = conn.execute(self._insert, rows).rowcount if rows else 0
                    save_cursor(conn, self.server_id, cur, self.source)
                if bad:
                    log.warning("pbxrecord.unparsed_lines", lines=bad, path=str(path))
                res.lines += len(rows)
                res.stored += max(0, stored)
                res.bad += bad
                res.bytes += end + 1
                if self._progress is not None:
                    self._progress(cur.offset, os.fstat(f.fileno()).st_size)
        return res


class CelFileReader(RecordFileReader):
    """The CEL file cel_custom writes (docs/decisions/0009)."""


class QueueLogReader(RecordFileReader):
    """Asterisk's queue_log: the agents' log-ins, pauses and calls (docs/decisions/0016)."""

    source = QUEUE_LOG
    marks_read_through = True

    def row_of(self, raw: bytes, read_at: datetime) -> dict[str, Any]:
        return queue_log_row(self.server_id, raw, read_at)

    def note_lost(self, cur: Cursor, why: str) -> None:
        """Keep a LOST mark in the record: the figures then treat the stretch from the
        last line read to now as one the queue_log cannot vouch for (decision 0016)."""
        now = datetime.now(UTC)
        text = f"{why}: {cur.path} inode {cur.inode} from byte {cur.offset}"
        with self.engine.begin() as conn:
            conn.execute(
                self._insert,
                [
                    {
                        "server_id": self.server_id,
                        "source": QUEUE_LOG,
                        "line_hash": hashlib.sha1(
                            f"{text} at {now.isoformat()}".encode(), usedforsecurity=False
                        ).hexdigest(),
                        "event_time": now,
                        "read_at": now,
                        "eventtype": LOST,
                        "uniqueid": "",
                        "linkedid": "",
                        "line": "",
                        "note": text[:200],
                    }
                ],
            )

    def newest_line(self) -> datetime | None:
        # Not read_until: that is the daemon's clock at the last read through, and
        # another host's file may run a little behind it.
        with self.engine.connect() as conn:
            t = conn.execute(
                select(func.max(RECORD.c.event_time)).where(
                    RECORD.c.server_id == self.server_id,
                    RECORD.c.source == QUEUE_LOG,
                    RECORD.c.eventtype.not_in(("UNPARSED", LOST)),
                )
            ).scalar()
        return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC))

    def vet(
        self, rows: list[dict[str, Any]], floor: datetime | None, now: datetime
    ) -> datetime | None:
        """Asterisk writes the caller's number into ENTERQUEUE lines as it came: a
        number with a line break in it (``%0A`` in a SIP URI) puts a line of the
        caller's making into the file. Such a line dated before the lines around it
        (to land in a stretch the daemon did not see) is set aside, kept and counted;
        one dated now lands where AMI sees the PBX, and AMI wins (decision 0016)."""
        for r in rows:
            if r["eventtype"] == "UNPARSED":
                continue
            t = r["event_time"]
            why = ""
            if t > now + FUTURE:
                why = "dated in the future"
            elif floor is not None and t < floor - OUT_OF_ORDER:
                why = f"dated before the line it follows ({floor.isoformat()})"
            if why:
                r.update(eventtype="UNPARSED", event_time=r["read_at"], uniqueid="")
                r["note"] = f"out of order: {why}"[:200]
            else:
                floor = t if floor is None else max(floor, t)
        return floor
