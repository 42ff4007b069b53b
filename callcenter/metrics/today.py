"""Today's call figures as running sums: what was stored before this run, plus each call
finished since, by queue. Figures add up, so the wallboard's every update costs the same
with ten calls finished today or ten thousand."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from callcenter.metrics import CallFigures, GroupKey, combine, compute_figures, query_figures_by
from callcenter.metrics.settings import MetricsConfig
from callcenter.telephony.calls import CallRecord


class TodaySums:
    def __init__(self, engine: Engine, metrics: MetricsConfig, tz: ZoneInfo, server_id: str):
        self.engine = engine
        self.metrics = metrics
        self.tz = tz
        self.server_id = server_id
        self.day = ""
        self.base: dict[GroupKey, CallFigures] = {}  # stored before this run, by queue
        self.live: dict[str | None, CallFigures] = {}  # finished in this run, by queue

    def local_day(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.tz).date().isoformat()

    def load(self) -> None:
        """Today's calls stored before this run (reads the database: off the loop)."""
        today = datetime.now(self.tz).date()
        self.day = today.isoformat()
        self.base = query_figures_by(
            self.engine,
            self.metrics,
            "queue",
            self.day,
            (today + timedelta(days=1)).isoformat(),
            server_id=self.server_id,
        )
        self.live = {}

    def roll(self) -> bool:
        """Past midnight (service time zone), start the new day from nothing; True then."""
        today = datetime.now(self.tz).date().isoformat()
        if today == self.day:
            return False
        self.day, self.base, self.live = today, {}, {}
        return True

    def add(self, call: CallRecord) -> None:
        """A call finished (or completed from the PBX record) that is not in the sums."""
        self.roll()
        if self.local_day(call.arrived_at) != self.day:
            return
        one = compute_figures([call], self.metrics)
        before = self.live.get(call.queue)
        self.live[call.queue] = one if before is None else before + one

    def replace(self, old: CallRecord, new: CallRecord) -> None:
        """A call counted as ``old`` (an estimate) now has a better record, ``new``."""
        self.roll()
        if self.local_day(old.arrived_at) == self.day and old.queue in self.live:
            self.live[old.queue] = self.live[old.queue] - compute_figures([old], self.metrics)
        self.add(new)

    def figures(self, queue: str | None = None) -> CallFigures:
        self.roll()
        if queue is None:
            return combine([*self.base.values(), *self.live.values()], self.metrics)
        empty = CallFigures(self.metrics)
        return self.base.get(queue, empty) + self.live.get(queue, empty)
