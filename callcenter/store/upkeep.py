"""The event log's upkeep, run by every daemon: the month partitions ahead (PostgreSQL),
and once a day, by one daemon whatever their number (a lease), the retention
(store.partitions)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.store import leases
from callcenter.store.partitions import ensure_months, is_partitioned, months_from, prune_events
from callcenter.store.settings import RetentionConfig

log = structlog.get_logger("callcenter.store")

EVERY = 3600.0  # seconds between two looks
MONTHS_AHEAD = 2
DONE = timedelta(days=2)  # the day's lease, once its prune is done: nobody prunes it again


def lease_name(day: str) -> str:
    return f"store.retention/{day}"


class EventLogUpkeep:
    def __init__(
        self,
        engine: Engine,
        retention: RetentionConfig,
        *,
        holder: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.retention = retention
        self.holder = holder or f"upkeep/{uuid.uuid4().hex}"
        self.clock = clock
        self.pruned_day = ""
        self.last_pruned: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), EVERY)

    async def once(self) -> None:
        now = self.clock()
        try:
            await asyncio.to_thread(self._months, now)
            await asyncio.to_thread(self._prune, now)
        except SQLAlchemyError as exc:
            # The database is away: the next look (an hour on) tries again; a month's
            # partition is made two months ahead, so an hour lost costs nothing.
            log.warning("store.upkeep_failed", error=type(exc).__name__)

    def _months(self, now: datetime) -> None:
        with self.engine.begin() as conn:
            if not is_partitioned(conn):
                return
            made = ensure_months(conn, months_from(now, MONTHS_AHEAD))
        if made:
            log.info("store.partitions_created", partitions=made)

    def _prune(self, now: datetime) -> None:
        day = now.astimezone(UTC).date().isoformat()
        if self.retention.events_days <= 0 or self.pruned_day == day:
            return
        if not leases.acquire(self.engine, lease_name(day), self.holder, now, DONE):
            self.pruned_day = day  # another daemon has it (or had it) today
            return
        self.last_pruned = prune_events(self.engine, self.retention.events_days, now)
        self.pruned_day = day
        log.info("store.events_pruned", keep_days=self.retention.events_days,
                 removed=self.last_pruned)  # fmt: skip
