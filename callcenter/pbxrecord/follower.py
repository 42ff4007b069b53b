"""The daemon's side of the PBX record: read the CEL file as it grows, and complete the
calls the live path missed; off the event loop, every ``poll_interval``.

The nightly sweep runs once per PBX and day, however many daemons follow that PBX's
record: a lease (``callcenter.store.leases``) named after the server and the day is
taken first. Its holder keeps it for ``SWEEP_LEASE`` while it sweeps (if it dies, another
daemon sweeps once that runs out), then for ``SWEPT_LEASE`` (the day is done)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.metrics.cells import refresh_days
from callcenter.metrics.settings import MetricsConfig
from callcenter.pbxrecord.reader import CelFileReader
from callcenter.pbxrecord.reconcile import (
    Classifier,
    DayReport,
    PassResult,
    reconcile_day,
    reconcile_pending,
)
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.store import leases

log = structlog.get_logger("callcenter.pbxrecord")

# A sweep re-checks one day of one PBX: minutes at most.
SWEEP_LEASE = timedelta(hours=1)
# Past the day after: "yesterday" has moved on by then.
SWEPT_LEASE = timedelta(days=2)
# How long a daemon that found the day's lease held waits before asking again.
SWEEP_RETRY = timedelta(minutes=5)


def sweep_lease_name(server_id: str, day: str) -> str:
    return f"pbxrecord.nightly_sweep/{server_id}/{day}"


class PbxRecordFollower:
    def __init__(
        self,
        engine: Engine,
        reader: CelFileReader,
        classifier: Classifier,
        settings: PbxRecordSettings,
        on_calls: Callable[[PassResult], None],
        *,
        holder: str | None = None,
        figures: MetricsConfig | None = None,
    ) -> None:
        self.engine = engine
        self.reader = reader
        self.classifier = classifier
        self.settings = settings
        self.on_calls = on_calls
        self.healthy = True
        self.last_read: datetime | None = None  # when the file was last read through
        self.swept: str = ""  # the last day the nightly sweep re-checked
        self.last_sweep: DayReport | None = None
        # Who this daemon is to the sweep's lease: two daemons of one PBX differ.
        self.holder = holder or f"{classifier.server_id}/{uuid.uuid4().hex}"
        self._lease_busy_until: datetime | None = None
        # With the metrics settings, the sweep also brings the day's figure cells up to
        # date (metrics.cells): the month's report then reads every closed day's cells.
        self.figures = figures

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.pass_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.poll_interval)

    async def pass_once(self) -> None:
        try:
            await asyncio.to_thread(self.reader.read_available)
            self.last_read = datetime.now(UTC)
            settle = self.last_read - timedelta(seconds=self.settings.settle_seconds)
            res = await asyncio.to_thread(reconcile_pending, self.engine, self.classifier, settle)
        except (SQLAlchemyError, OSError) as exc:
            # The database or the file is away for now: the cursor has not moved, so the
            # next pass reads and checks the same again.
            if self.healthy:
                log.warning("pbxrecord.read_failed", error=type(exc).__name__)
            self.healthy = False
            return
        self.healthy = True
        if res.written:
            self.on_calls(res)
        await self.nightly_sweep()

    async def nightly_sweep(self, now: datetime | None = None) -> DayReport | None:
        """Past ``nightly_sweep`` each day, re-check yesterday whole (once a day)."""
        at = self.settings.nightly_sweep
        if not at:
            return None
        at_utc = (now or datetime.now(UTC)).astimezone(UTC)
        local = at_utc.astimezone(self.classifier.tz)
        yesterday = (local.date() - timedelta(days=1)).isoformat()
        if self.swept == yesterday or local.strftime("%H:%M") < at:
            return None
        if self._lease_busy_until is not None and at_utc < self._lease_busy_until:
            return None
        name = sweep_lease_name(self.classifier.server_id, yesterday)
        try:
            mine = await asyncio.to_thread(
                leases.acquire, self.engine, name, self.holder, at_utc, SWEEP_LEASE
            )
        except SQLAlchemyError as exc:
            log.warning("pbxrecord.sweep_failed", day=yesterday, error=type(exc).__name__)
            return None
        if not mine:
            # Another daemon of this PBX sweeps the day, or has: ask again later (it may
            # die before it is done).
            self._lease_busy_until = at_utc + SWEEP_RETRY
            return None
        self._lease_busy_until = None
        try:
            report = await asyncio.to_thread(
                reconcile_day, self.engine, self.classifier, date.fromisoformat(yesterday)
            )
            if self.figures is not None:
                today = local.date().isoformat()
                await asyncio.to_thread(
                    refresh_days, self.engine, self.figures, yesterday, today,
                    self.classifier.server_id,
                )  # fmt: skip
        except SQLAlchemyError as exc:
            log.warning("pbxrecord.sweep_failed", day=yesterday, error=type(exc).__name__)
            with contextlib.suppress(SQLAlchemyError):
                await asyncio.to_thread(leases.release, self.engine, name, self.holder)
            return None
        with contextlib.suppress(SQLAlchemyError):
            # Done: nobody sweeps this day again (and old days' leases go).
            await asyncio.to_thread(
                leases.acquire, self.engine, name, self.holder, at_utc, SWEPT_LEASE
            )
            await asyncio.to_thread(leases.purge_expired, self.engine, at_utc)
        self.swept, self.last_sweep = yesterday, report
        log.info(
            "pbxrecord.nightly_sweep",
            day=yesterday,
            in_record=report.in_record,
            in_calls=report.in_calls,
            added=report.count("added"),
            replaced=report.count("replaced"),
            differs=report.count("differs"),
            not_in_record=report.count("not_in_record"),
        )
        if report.written:
            self.on_calls(
                PassResult(
                    checked=report.in_record,
                    written=report.written,
                    added={d.linkedid for d in report.differences if d.action == "added"},
                )
            )
        return report
