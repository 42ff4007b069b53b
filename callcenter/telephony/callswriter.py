"""The calls writer: finished calls to the ``calls`` table, off the event loop.

An outage keeps the calls and retries them with the bounded backoff. A call whose row
cannot be built (a nonsense time: datetime raises) or that the database refuses is
quarantined (kind ``call``) and logged, and the others are stored: one bad call must
not hold up every later one, nor kill the writer. A quarantined call is not lost
either: the event log holds its events, and replaying them rebuilds it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine

from callcenter.backoff import backoff
from callcenter.store.calls import write_calls
from callcenter.store.quarantine import (
    is_transient,
    record_original,
    short_error,
    store_quarantined,
)
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord

log = structlog.get_logger("callcenter.calls")


class _Outage(Exception):
    def __init__(self, exc: BaseException) -> None:
        super().__init__(type(exc).__name__)
        self.exc = exc


class CallsWriter:
    def __init__(
        self,
        engine: Engine,
        tz: ZoneInfo,
        *,
        retry_min: float = 0.2,
        retry_max: float = 5.0,
        flush_interval: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.tz = tz
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.flush_interval = flush_interval
        self._sleep = sleep or asyncio.sleep
        self.unwritten: list[CallRecord] = []
        self.written = asyncio.Event()  # set after each stored batch
        self.stored = 0
        self.quarantined = 0
        self.failures = 0

    def add(self, call: CallRecord) -> None:
        self.unwritten.append(call)

    async def run(self, stop: asyncio.Event) -> None:
        """Store finished calls until ``stop`` is set and none is left (or, stopping,
        the database still fails: the caller logs what is left)."""
        attempt = 0
        while True:
            batch, self.unwritten = self.unwritten, []
            if batch:
                try:
                    await self._store(batch)
                except _Outage as outage:
                    self.unwritten[:0] = batch
                    self.failures += 1
                    delay = backoff(attempt, self.retry_min, self.retry_max)
                    attempt += 1
                    log.warning(
                        "calls.write_failed",
                        calls=len(batch),
                        error=type(outage.exc).__name__,
                        attempt=attempt,
                        retry_in=round(delay, 2),
                    )
                    if stop.is_set():
                        return
                    await self._sleep(delay)
                    continue
                except BaseException:
                    self.unwritten[:0] = batch  # a bug or a cancel: keep them for a rerun
                    raise
                attempt = 0
                self.written.set()
            if stop.is_set() and not self.unwritten:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_interval)

    async def _store(self, batch: list[CallRecord]) -> None:
        """Store ``batch``; bad calls quarantined. Raises _Outage to retry it all (the
        write is an upsert: calls stored before the outage are not doubled)."""
        rows: list[tuple[CallRecord, dict[str, Any]]] = []
        for call in batch:
            try:
                rows.append((call, call_row(call, self.tz)))
            except Exception as exc:
                await self._quarantine(call, exc)
        try:
            await self._write([r for _, r in rows])
            self.stored += len(rows)
            return
        except _Outage:
            raise
        except Exception as exc:
            # Refused, not down: find the refused calls one by one.
            log.warning("calls.batch_refused", calls=len(rows), error=short_error(exc))
        for call, row in rows:
            try:
                await self._write([row])
                self.stored += 1
            except _Outage:
                raise
            except Exception as exc:
                await self._quarantine(call, exc)

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            await asyncio.to_thread(write_calls, self.engine, rows)
        except Exception as exc:
            if is_transient(exc):
                raise _Outage(exc) from exc
            raise

    async def _quarantine(self, call: CallRecord, exc: BaseException) -> None:
        error = short_error(exc)
        try:
            qid = await asyncio.to_thread(
                store_quarantined,
                self.engine,
                server_id=call.server_id,
                kind="call",
                error=error,
                original=record_original(call),
                ref=call.linkedid,
            )
        except Exception as qexc:
            if is_transient(qexc):
                raise _Outage(qexc) from qexc  # retried with the batch
            log.error("calls.quarantine_failed", linkedid=call.linkedid, error=error)
            return
        self.quarantined += 1
        log.error(
            "calls.quarantined",
            quarantine_id=qid,
            linkedid=call.linkedid,
            error=error,
            note="this call could not be stored; its events are in the event log",
        )
