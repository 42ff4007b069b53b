"""Today's call figures as running sums: what was stored before this run, plus each call
finished since, by queue. Figures add up, so the wallboard's every update costs the same
with ten calls finished today or ten thousand.

The daemon hands each finished call over (``finished``), and each call the PBX record
completed (``from_record``): one completed while the link was down is added, one whose
estimate is already counted replaces it, and a call the record completed is not counted
again when the tracker finishes it after a resync.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from callcenter.metrics import CallFigures, GroupKey, combine, compute_figures, query_figures_by
from callcenter.metrics.settings import MetricsConfig
from callcenter.telephony.calls import CallRecord

# Finished calls kept in memory for a look (tests, debugging): the last ones only, so
# the daemon does not grow by one CallRecord per call all day.
RECENT_CALLS = 1000


class TodaySums:
    def __init__(self, engine: Engine, metrics: MetricsConfig, tz: ZoneInfo, server_id: str):
        self.engine = engine
        self.metrics = metrics
        self.tz = tz
        self.server_id = server_id
        self.day = ""
        self.base: dict[GroupKey, CallFigures] = {}  # stored before this run, by queue
        self.live: dict[str | None, CallFigures] = {}  # finished in this run, by queue
        self.recent_calls: deque[CallRecord] = deque(maxlen=RECENT_CALLS)
        self.outcomes: Counter[str] = Counter()  # calls finished since start, by outcome
        self._from_record: OrderedDict[str, None] = OrderedDict()  # the last ones written

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
        self.recent_calls = deque(
            (c for c in self.recent_calls if self.local_day(c.arrived_at) == today),
            maxlen=RECENT_CALLS,
        )
        return True

    def finished(self, call: CallRecord) -> None:
        """The tracker finished ``call``."""
        self.recent_calls.append(call)
        self.outcomes[str(call.outcome)] += 1
        if call.linkedid not in self._from_record:  # counted when the record completed it
            self.add(call)

    def from_record(self, call: CallRecord, added: bool) -> bool:
        """The PBX record wrote ``call`` (``added``: a call not stored before); True when
        it replaced an estimate this run had counted."""
        self._from_record[call.linkedid] = None
        while len(self._from_record) > RECENT_CALLS:
            self._from_record.popitem(last=False)
        old = next((c for c in self.recent_calls if c.linkedid == call.linkedid), None)
        if old is not None:
            self.replace(old, call)  # its estimate is in today's sums
        elif added:
            self.add(call)
        return old is not None

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
