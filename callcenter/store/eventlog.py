"""The AMI event log writer: batched, retried, bounded, and lossless.

``append`` never blocks and never fails: the event goes into an in-memory buffer.
A background task writes the buffer in batches. When the database is slow or down,
the failed batch is kept and retried with backoff while new events accumulate; if
the buffer reaches its bound, it is spilled to an append-only spool file (with a
loud log line) and replayed from there once the database answers again. Spool files
left by a crash are replayed at the next start. Each row carries (run_id, seq), and
inserts ignore a row already stored, so a retried batch is never stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, Insert, Table
from sqlalchemy.exc import SQLAlchemyError

from callcenter.store.db import insert_or_skip
from callcenter.store.models import AMIEvent

log = structlog.get_logger("callcenter.eventlog")

Row = dict[str, Any]
TABLE: Table = AMIEvent.__table__  # type: ignore[assignment]


def event_row(
    headers: Mapping[str, str], received: float, server_id: str, run_id: str, seq: int
) -> Row:
    """One table row for one event (headers kept whole, as received)."""
    return {
        "server_id": server_id,
        "run_id": run_id,
        "seq": seq,
        "received_at": datetime.fromtimestamp(received, UTC),
        "event": headers.get("Event", ""),
        "uniqueid": headers.get("Uniqueid"),
        "linkedid": headers.get("Linkedid"),
        "action_id": headers.get("ActionID"),
        "headers": headers,
    }


def insert_statement(engine: Engine) -> Insert:
    """INSERT that skips rows already stored (same server, run and seq)."""
    return insert_or_skip(engine.dialect.name, TABLE, ("server_id", "run_id", "seq"))


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


def _row_to_json(row: Row) -> str:
    out = dict(row)
    out["received_at"] = row["received_at"].timestamp()
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def _row_from_json(line: str) -> Row:
    row: Row = json.loads(line)
    row["received_at"] = datetime.fromtimestamp(row["received_at"], UTC)
    return row


class EventLog:
    def __init__(
        self,
        engine: Engine,
        server_id: str,
        *,
        batch_size: int = 1000,
        flush_interval: float = 0.2,
        buffer_limit: int = 200_000,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
        spool_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        self.server_id = server_id
        self.run_id = secrets.token_hex(8)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.buffer_limit = buffer_limit
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.spool_dir = spool_dir
        self.stats = EventLogStats()
        self._buf: deque[Row] = deque()
        self._seq = 0
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._stmt = insert_statement(engine)
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
        return len(self._buf)

    def _spill(self) -> None:
        rows = list(self._buf)
        if self.spool_dir is None:
            # No spool configured: keep everything in memory rather than drop it.
            log.error("eventlog.buffer_full", buffered=len(rows), spool="none, kept in memory")
            self.buffer_limit *= 2
            return
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{time.time_ns():020d}-{self.run_id}.jsonl"
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.writelines(_row_to_json(r) + "\n" for r in rows)
            f.flush()
            os.fsync(f.fileno())
        tmp.rename(path)
        self._buf.clear()
        self.stats.spilled += len(rows)
        log.error(
            "eventlog.buffer_full",
            spilled=len(rows),
            spool=str(path),
            note="database not keeping up; events kept on disk and replayed later",
        )

    # -- writer side -------------------------------------------------------------------

    def _spool_files(self) -> list[Path]:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return []
        return sorted(self.spool_dir.glob("*.jsonl"))

    async def _write_retrying(self, rows: list[Row]) -> bool:
        """Write ``rows``, retrying until it works; False if stopped while still failing."""
        attempt = 0
        while True:
            try:
                await asyncio.to_thread(write_rows, self.engine, rows, self._stmt)
            except (SQLAlchemyError, OSError) as exc:
                self.stats.failures += 1
                self.healthy = False
                delay = min(self.retry_max, self.retry_min * 2**attempt)
                attempt += 1
                log.warning(
                    "eventlog.write_failed",
                    rows=len(rows),
                    attempt=attempt,
                    retry_in=round(delay, 2),
                    error=type(exc).__name__,
                    buffered=len(self._buf),
                )
                if self._stopping and attempt >= 3:
                    return False
                await asyncio.sleep(delay)
                continue
            if not self.healthy:
                log.info("eventlog.write_recovered", after_attempts=attempt)
            self.healthy = True
            return True

    async def _replay_spool(self) -> None:
        for path in self._spool_files():
            with path.open(encoding="utf-8") as f:
                rows = [_row_from_json(line) for line in f if line.strip()]
            for i in range(0, len(rows), self.batch_size):
                if not await self._write_retrying(rows[i : i + self.batch_size]):
                    return
            path.unlink()
            self.stats.replayed += len(rows)
            log.info("eventlog.spool_replayed", rows=len(rows), spool=str(path))

    def _take(self) -> list[Row]:
        n = min(self.batch_size, len(self._buf))
        return [self._buf.popleft() for _ in range(n)]

    async def run(self) -> None:
        """Write until ``stop()``; then flush what is left."""
        await self._replay_spool()
        while True:
            if not self._buf:
                if self._stopping:
                    return
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.flush_interval)
                if self._spool_files():
                    await self._replay_spool()
                continue
            batch = self._take()
            if await self._write_retrying(batch):
                self.stats.written += len(batch)
            else:
                # Stopping with the database still down: put the batch back and spool it all.
                self._buf.extendleft(reversed(batch))
                self._spill()
                return

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    def iter_buffer(self) -> Iterable[Row]:
        return iter(self._buf)
