"""The AMI event log writer: batched, retried, bounded, and lossless.

``append`` never blocks and never fails: the event goes into an in-memory buffer.
A background task writes the buffer in batches. When the database is slow or down,
the failed batch is kept and retried with backoff while new events accumulate; if
the buffer reaches its bound, it is handed to a thread that writes it to a spool file
(with a loud log line), replayed from there once the database answers again. Spool
files left by a crash are replayed at the next start. Each row carries (run_id, seq),
and inserts ignore a row already stored, so a retried batch is never stored twice.

A batch the database *refuses* (not an outage: a NUL in a header, an over-long id) is
split until the refused rows are alone; each is quarantined (kept byte for byte, see
store/quarantine.py) and a safe form of it is stored in its place, so one poison event
cannot hold up the log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import math
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog
from sqlalchemy import Engine, Insert, Table

from callcenter.backoff import backoff
from callcenter.store.db import insert_or_skip
from callcenter.store.models import AMIEvent
from callcenter.store.poison import QUARANTINE_HEADER as QUARANTINE_HEADER
from callcenter.store.poison import quarantine_row
from callcenter.store.quarantine import (
    clean_text,
    is_transient,
    original_bytes,
    short_error,
    store_quarantined,
)
from callcenter.store.settings import DatabaseConfig

log = structlog.get_logger("callcenter.eventlog")

Row = dict[str, Any]
TABLE: Table = AMIEvent.__table__  # type: ignore[assignment]


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


# The last receive time turned into a datetime: the events of one socket read share it.
_last_received: tuple[float, datetime] = (math.nan, datetime.min.replace(tzinfo=UTC))


def _received_at(received: float) -> datetime:
    global _last_received
    last = _last_received
    if received == last[0]:  # (never a NaN: it equals nothing)
        return last[1]
    try:
        if math.isfinite(received):
            at = datetime.fromtimestamp(received, UTC)
            _last_received = (received, at)  # one assignment: safe from any thread
            return at
    except (ValueError, OverflowError, OSError, TypeError):
        pass
    return datetime.now(UTC)  # a nonsense receive time: now is the best we know


def event_row(
    headers: Mapping[str, str], received: float, server_id: str, run_id: str, seq: int
) -> Row:
    """One table row for one event (headers kept whole, as received). Never raises:
    whatever the headers hold, the row is made, and the database judges it."""
    try:
        hdrs = dict(headers.items())
        # Parsed frames hold only text: checked in C over all names and values at once,
        # and only anything else converted one by one (a call per header was 9% of the
        # daemon's CPU a call, bench/per_call).
        if {*map(type, hdrs), *map(type, hdrs.values())} != {str}:
            hdrs = {_as_text(k): _as_text(v) for k, v in hdrs.items()}
    except Exception as exc:  # a mapping that cannot even be read
        hdrs = {"X-Callcenter-Unreadable": f"{type(exc).__name__}"}
    return {
        "server_id": server_id,
        "run_id": run_id,
        "seq": seq,
        "received_at": _received_at(received),
        "event": hdrs.get("Event", ""),
        "uniqueid": hdrs.get("Uniqueid"),
        "linkedid": hdrs.get("Linkedid"),
        "action_id": hdrs.get("ActionID"),
        "headers": hdrs,
    }


def insert_statement(engine: Engine) -> Insert:
    """INSERT that skips rows already stored (same server, run and seq). On PostgreSQL
    the key also holds received_at, as the month partitions need (store.partitions): an
    event stored again keeps its received_at, so it is still the same key."""
    keys: tuple[str, ...] = ("server_id", "run_id", "seq")
    if engine.dialect.name == "postgresql":
        keys = (*keys, "received_at")
    return insert_or_skip(engine.dialect.name, TABLE, keys)


def write_rows(engine: Engine, rows: list[Row], stmt: Insert | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(stmt if stmt is not None else insert_statement(engine), rows)


@dataclass
class EventLogStats:
    appended: int = 0
    written: int = 0
    spilled: int = 0
    replayed: int = 0
    failures: int = 0
    quarantined: int = 0


def _row_to_json(row: Row) -> str:
    out = dict(row)
    out["received_at"] = row["received_at"].timestamp()
    # ASCII: a lone surrogate in a header must not make the spill itself fail.
    return json.dumps(out, ensure_ascii=True, separators=(",", ":"))


def _row_from_json(line: str) -> Row:
    row: Row = json.loads(line)
    row["received_at"] = datetime.fromtimestamp(row["received_at"], UTC)
    return row


def _write_spool(path: Path, rows: list[Row]) -> None:
    """Runs in a thread: the loop keeps reading AMI while this writes and fsyncs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.writelines(_row_to_json(r) + "\n" for r in rows)
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)


def _read_lines(f: IO[str], n: int) -> list[str]:
    return list(itertools.islice(f, n))


DEFAULTS = DatabaseConfig()


class EventLog:
    def __init__(
        self,
        engine: Engine,
        server_id: str,
        settings: DatabaseConfig = DEFAULTS,
        *,
        spool_dir: Path | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """``settings``: the [database] batch size, flush interval, buffer limit and
        retry delays; ``spool_dir``: its spool_dir as a path (None: no spool file);
        ``sleep``: how the retry loop waits (tests pass a fake clock's)."""
        self.engine = engine
        self.server_id = server_id
        self.run_id = secrets.token_hex(8)
        self.settings = settings
        self.batch_size = settings.batch_size
        self.flush_interval = settings.flush_interval
        self.buffer_limit = settings.buffer_limit
        self.retry_min = settings.retry_min
        self.retry_max = settings.retry_max
        self.spool_dir = spool_dir
        self.stats = EventLogStats()
        self._sleep = sleep or asyncio.sleep
        self._buf: deque[Row] = deque()
        self._seq = 0
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._stmt = insert_statement(engine)
        # The batch being written: a writer task that dies mid-write must not lose it.
        self._inflight: list[Row] = []
        # Spills go through one thread, so spool files are complete in the order taken.
        self._spill_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._spills: set[asyncio.Future[None]] = set()
        self._spilling = 0  # rows handed to the spill thread, not yet on disk
        self.healthy = True  # False while the database refuses writes

    # -- producer side -----------------------------------------------------------------

    def append(self, headers: Mapping[str, str], received: float | None = None) -> None:
        self._seq += 1
        self._buf.append(
            event_row(
                headers,
                time.time() if received is None else received,
                self.server_id,
                self.run_id,
                self._seq,
            )
        )
        self.stats.appended += 1
        if len(self._buf) >= self.buffer_limit:
            self._spill()
        elif len(self._buf) >= self.batch_size:
            self._wakeup.set()

    @property
    def pending(self) -> int:
        """Events held in memory: buffered, or handed to the spill thread but not yet on disk."""
        return len(self._buf) + self._spilling

    def _spill(self) -> None:
        """Hand the whole buffer to the spill thread (never writes on the loop)."""
        rows = list(self._buf)
        if not rows:
            return
        if self.spool_dir is None:
            # No spool configured: keep everything in memory rather than drop it.
            log.error("eventlog.buffer_full", buffered=len(rows), spool="none, kept in memory")
            self.buffer_limit *= 2
            return
        path = self.spool_dir / f"{time.time_ns():020d}-{self.run_id}.jsonl"
        self._buf.clear()
        self.stats.spilled += len(rows)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on a loop (a synchronous caller): nothing to stall
            self._spill_done(path, rows, None)
            return
        if self._spill_pool is None:
            self._spill_pool = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="eventlog-spill"
            )
        fut = loop.run_in_executor(self._spill_pool, _write_spool, path, rows)
        self._spilling += len(rows)
        self._spills.add(fut)
        fut.add_done_callback(lambda f: self._spill_done(path, rows, f))

    def _spill_done(self, path: Path, rows: list[Row], fut: asyncio.Future[None] | None) -> None:
        try:
            if fut is None:
                _write_spool(path, rows)
            else:
                self._spills.discard(fut)
                self._spilling -= len(rows)
                fut.result()
        except (OSError, asyncio.CancelledError) as exc:
            # The disk refused too: keep the rows in memory (the oldest first) rather
            # than drop them, and raise the bound so the next spill is not at once.
            self._buf.extendleft(reversed(rows))
            self.stats.spilled -= len(rows)
            self.buffer_limit = max(self.buffer_limit, len(self._buf)) * 2
            log.error("eventlog.spill_failed", rows=len(rows), spool=str(path), error=repr(exc))
            return
        log.error(
            "eventlog.buffer_full",
            spilled=len(rows),
            spool=str(path),
            note="database not keeping up; events kept on disk and replayed later",
        )

    async def wait_spills(self) -> None:
        """Wait until every handed-over spill is on disk (or back in the buffer)."""
        while self._spills:
            await asyncio.gather(*list(self._spills), return_exceptions=True)
            await asyncio.sleep(0)  # let the done callbacks run

    async def _drain_spills(self) -> None:
        await self.wait_spills()
        if self._spill_pool is not None:
            self._spill_pool.shutdown(wait=False)
            self._spill_pool = None

    # -- writer side -------------------------------------------------------------------

    def _spool_files(self) -> list[Path]:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return []
        return sorted(self.spool_dir.glob("*.jsonl"))

    async def _failed(self, exc: BaseException, rows: int, attempt: int) -> bool:
        """Count and log a transient failure, wait; False to give up (stopping)."""
        self.stats.failures += 1
        self.healthy = False
        delay = backoff(attempt, self.retry_min, self.retry_max)
        log.warning(
            "eventlog.write_failed",
            rows=rows,
            attempt=attempt + 1,
            retry_in=round(delay, 2),
            error=type(exc).__name__,
            buffered=len(self._buf),
        )
        if self._stopping and attempt + 1 >= 3:
            return False
        await self._sleep(delay)
        return True

    async def _write_retrying(self, rows: list[Row]) -> bool:
        """Write ``rows``, retrying outages until it works and quarantining the rows the
        database refuses; False if stopped while the database is still failing."""
        parts: deque[list[Row]] = deque([rows])
        attempt = 0
        while parts:
            part = parts[0]
            try:
                if len(part) == 1 and "_refused" in part[0]:
                    await self._quarantine(part[0])
                else:
                    await asyncio.to_thread(write_rows, self.engine, part, self._stmt)
            except Exception as exc:
                if not is_transient(exc) and "_refused" not in part[0]:
                    # Refused, not down: retrying unchanged would fail forever. Split
                    # until the refused rows are alone (the others are stored on the way).
                    parts.popleft()
                    if len(part) == 1:
                        parts.appendleft([{**part[0], "_refused": short_error(exc)}])
                    else:
                        mid = len(part) // 2
                        parts.extendleft((part[mid:], part[:mid]))
                    continue
                if not await self._failed(exc, len(part), attempt):
                    return False
                attempt += 1
                continue
            parts.popleft()
            if not self.healthy:
                log.info("eventlog.write_recovered", after_attempts=attempt)
            self.healthy = True
            attempt = 0
        return True

    async def _quarantine(self, marked: Row) -> None:
        row = dict(marked)
        error = row.pop("_refused")
        qid = await asyncio.to_thread(quarantine_row, self.engine, row, error, self._stmt)
        if qid is None:
            return  # stored (or quarantined) by an earlier attempt
        self.stats.quarantined += 1
        # Loud, but no header values: they may hold anything (and are in quarantine).
        log.error(
            "eventlog.quarantined",
            quarantine_id=qid,
            run_id=row["run_id"],
            seq=row["seq"],
            event=clean_text(row.get("event") or "")[:80],
            error=error,
            note="the database refused this event; a safe form is stored in its place",
        )

    async def _replay_spool(self) -> bool:
        files = await asyncio.to_thread(self._spool_files)
        for path in files:
            if not await self._replay_file(path):
                return False
        return True

    async def _replay_file(self, path: Path) -> bool:
        """Replay one spool file a batch at a time, read in a thread: never the whole
        file on the loop, nor in memory. A line that is not a row (a damaged file) is
        quarantined as it is; replaying the file again stores nothing twice."""
        # surrogateescape: a damaged byte becomes an unreadable line, not a dead writer.
        f = await asyncio.to_thread(path.open, encoding="utf-8", errors="surrogateescape")
        count = 0
        try:
            while lines := await asyncio.to_thread(_read_lines, f, self.batch_size):
                rows = []
                for n, line in enumerate(lines, count + 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(_row_from_json(line))
                    except (ValueError, KeyError, TypeError, OverflowError) as exc:
                        if not await self._quarantine_line(path, n, line, exc):
                            return False
                count += len(lines)
                if rows and not await self._write_retrying(rows):
                    return False
        finally:
            await asyncio.to_thread(f.close)
        await asyncio.to_thread(path.unlink)
        self.stats.replayed += count
        log.info("eventlog.spool_replayed", rows=count, spool=str(path))
        return True

    async def _quarantine_line(self, path: Path, n: int, line: str, exc: Exception) -> bool:
        ref = f"spool:{path.name}:{n}"
        try:
            qid = await asyncio.to_thread(
                store_quarantined,
                self.engine,
                server_id=self.server_id,
                kind="ami_event",
                error=f"unreadable spool line: {short_error(exc)}",
                original=original_bytes({"spool": path.name, "line": n, "text": line}),
                ref=ref,
            )
        except Exception as qexc:
            # The file stays; it is replayed again later (rows already stored are skipped).
            log.warning("eventlog.spool_quarantine_failed", ref=ref, error=type(qexc).__name__)
            return False
        self.stats.quarantined += 1
        log.error("eventlog.spool_line_unreadable", ref=ref, quarantine_id=qid)
        return True

    def _take(self) -> list[Row]:
        n = min(self.batch_size, len(self._buf))
        return [self._buf.popleft() for _ in range(n)]

    async def run(self, *, replay: bool = True) -> None:
        """Write until ``stop()``; then flush what is left. Safe to run again after it
        died (the batch it was writing goes back in front). ``replay``: first replay
        the spool files left by earlier runs."""
        if self._inflight:
            self._buf.extendleft(reversed(self._inflight))
            self._inflight = []
        try:
            await self._run(replay)
        finally:
            if self._inflight and self._stopping:
                self._buf.extendleft(reversed(self._inflight))
                self._inflight = []
            await self._drain_spills()

    async def _run(self, replay: bool) -> None:
        if replay and not await self._replay_spool() and self._stopping:
            self._spill()  # stopping with the database down: the buffer goes to disk too
            return
        while True:
            if not self._buf:
                if self._stopping:
                    if self._spills:  # a failed spill puts its rows back: write them
                        await self.wait_spills()
                        continue
                    return
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.flush_interval)
                if self._spool_files():
                    await self._replay_spool()
                continue
            batch = self._inflight = self._take()
            ok = await self._write_retrying(batch)
            self._inflight = []
            if ok:
                self.stats.written += len(batch)
            else:
                # Stopping with the database still down: put the batch back and spool it all.
                self._buf.extendleft(reversed(batch))
                self._spill()
                return

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def flush(self) -> None:
        """Stop, and write or spool whatever is held: the last step of a shutdown, also
        when the writer task died."""
        self._stopping = True
        try:
            await self.run(replay=False)  # spool files wait for the next start
        except Exception:
            log.exception("eventlog.flush_failed", pending=len(self._buf))
            if self._buf:
                self._spill()
            await self._drain_spills()

    def iter_buffer(self) -> Iterable[Row]:
        return iter(self._buf)
