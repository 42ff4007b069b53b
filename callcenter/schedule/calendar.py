"""The business calendar: when the service desk is open, and business time between instants.

Pure (no I/O, no clock): every question takes the instant it is about. Instants are
aware datetimes; answers are given in the calendar's time zone. Opening hours are
[open, close): with 08:30-18:15, 08:30:00 is open and 18:15:00 is closed.

A day is an operating day unless it is (first reason wins):
  closed_day  listed in the extra closed dates
  holiday     a Japanese national holiday, substitute and "citizens'" holidays included
              (from the maintained ``holidays`` library, never from rules written here)
  year_end    inside the year-end closure (default Dec 29 - Jan 3)
  hours       a weekday without hours in the weekly timetable (Saturday, Sunday)
An extra open date is an operating day whatever the rules above say.

The same calendar drives the incident business-time clock (SPEC 3): a contact received
outside service hours counts as received at the next opening (``received_effective``),
and only open time counts between two instants (``business_seconds``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from holidays.countries.japan import Japan as JapanHolidays

from callcenter.schedule.rules import (
    Span,
    parse_closed_dates,
    parse_hours,
    parse_open_dates,
    parse_time,
    parse_year_end,
)

if TYPE_CHECKING:
    from callcenter.schedule.settings import ServiceConfig

DayOffReason = Literal["hours", "holiday", "year_end", "closed_day"]
MonthDay = tuple[int, int]

# No real calendar goes this long without opening; past it a question has no answer.
HORIZON_DAYS = 800
DEFAULT_HOURS: Mapping[int, Span] = {
    d: Span(parse_time("08:30"), parse_time("18:15")) for d in range(5)
}


def _aware(at: datetime, name: str = "at") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name}: an aware datetime is needed (got naive {at.isoformat()})")
    return at


class BusinessCalendar:
    def __init__(
        self,
        *,
        timezone: str | tzinfo = "Asia/Tokyo",
        weekly: Mapping[int, Span] | None = None,
        year_end: tuple[MonthDay, MonthDay] | None = ((12, 29), (1, 3)),
        closed_dates: Iterable[date] = (),
        open_dates: Mapping[date, Span | None] | None = None,
        national_holidays: Mapping[date, str] | None = None,
    ) -> None:
        """``weekly``: weekday (Monday 0) -> hours; default Mon-Fri 08:30-18:15.

        ``open_dates``: date -> its hours, or None for that weekday's hours (else the
        first weekly entry's). ``national_holidays``: defaults to ``holidays.Japan``
        (years are filled in as they are asked about).
        """
        self.tz: tzinfo = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.weekly: dict[int, Span] = dict(DEFAULT_HOURS if weekly is None else weekly)
        if not self.weekly:
            raise ValueError("weekly: no opening day: the service would never open")
        if any(not 0 <= d <= 6 for d in self.weekly):
            raise ValueError("weekly: weekdays are 0 (Monday) to 6 (Sunday)")
        self._standard = next(iter(self.weekly.values()))
        self.year_end = year_end
        self.closed_dates = frozenset(closed_dates)
        self.open_dates: dict[date, Span | None] = dict(open_dates or {})
        self.holidays: Mapping[date, str] = (
            JapanHolidays(language="ja") if national_holidays is None else national_holidays
        )
        self._windows: dict[date, tuple[datetime, datetime] | None] = {}

    @classmethod
    def from_config(cls, service: ServiceConfig) -> BusinessCalendar:
        """Build from a validated ``[service]`` section."""
        return cls(
            timezone=service.timezone,
            weekly=parse_hours(service.hours),
            year_end=parse_year_end(service.year_end_closure),
            closed_dates=parse_closed_dates(service.closed_dates),
            open_dates=parse_open_dates(service.open_dates),
        )

    # -- days ------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        return self.holidays.get(day)

    def in_year_end_closure(self, day: date) -> bool:
        if self.year_end is None:
            return False
        first, last = self.year_end
        md = (day.month, day.day)
        if first <= last:
            return first <= md <= last
        return md >= first or md <= last  # wraps over New Year

    def day_off_reason(self, day: date) -> DayOffReason | None:
        """Why ``day`` is not an operating day, or None when it is one."""
        if day in self.open_dates:
            return None
        if day in self.closed_dates:
            return "closed_day"
        if self.holiday_name(day) is not None:
            return "holiday"
        if self.in_year_end_closure(day):
            return "year_end"
        if day.weekday() not in self.weekly:
            return "hours"
        return None

    def is_operating_day(self, day: date) -> bool:
        return self.day_off_reason(day) is None

    def span_on(self, day: date) -> Span | None:
        """The hours of ``day`` (local times), or None on a day off."""
        if day in self.open_dates:
            return self.open_dates[day] or self.weekly.get(day.weekday()) or self._standard
        if self.day_off_reason(day) is not None:
            return None
        return self.weekly[day.weekday()]

    def hours_on(self, day: date) -> tuple[datetime, datetime] | None:
        """Opening and closing instants of ``day`` (in the calendar's zone), or None."""
        if day not in self._windows:
            span = self.span_on(day)
            self._windows[day] = (
                None
                if span is None
                else (
                    datetime.combine(day, span.open, tzinfo=self.tz),
                    datetime.combine(day, span.close, tzinfo=self.tz),
                )
            )
        return self._windows[day]

    def _local(self, at: datetime, name: str = "at") -> datetime:
        return _aware(at, name).astimezone(self.tz)

    def _days_from(self, at: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Opening windows of the operating days from ``at``'s local day on, in order."""
        day = self._local(at).date()
        for i in range(HORIZON_DAYS):
            window = self.hours_on(day + timedelta(days=i))
            if window is not None:
                yield window

    # -- instants --------------------------------------------------------------------
    # Comparisons go through UTC: within one zone Python compares wall times, which is
    # wrong across a DST change (not in Tokyo, but the zone is a setting).

    def is_open(self, at: datetime) -> bool:
        window = self.hours_on(self._local(at).date())
        if window is None:
            return False
        u = at.astimezone(UTC)
        return window[0].astimezone(UTC) <= u < window[1].astimezone(UTC)

    def in_weekly_hours(self, at: datetime) -> bool:
        """The weekly timetable alone (no holidays, closures or extra dates).

        This is what the dialplan's time rule decides when the daemon's mode is missing
        or stale (provided the dialplan's hours match ``hours``).
        """
        local = self._local(at)
        span = self.weekly.get(local.weekday())
        return span is not None and span.open <= local.time() < span.close

    def next_change(self, after: datetime) -> datetime:
        """The first opening or closing instant strictly after ``after``, days off skipped."""
        u = self._local(after, "after").astimezone(UTC)
        for opens, closes in self._days_from(after):
            if opens.astimezone(UTC) > u:
                return opens
            if closes.astimezone(UTC) > u:
                return closes
        raise ValueError(f"the service does not open within {HORIZON_DAYS} days of {after}")

    def next_opening(self, at: datetime) -> datetime:
        """The first opening instant at or after ``at`` (``at`` itself at 08:30:00)."""
        u = self._local(at).astimezone(UTC)
        for opens, _ in self._days_from(at):
            if opens.astimezone(UTC) >= u:
                return opens
        raise ValueError(f"the service does not open within {HORIZON_DAYS} days of {at}")

    def received_effective(self, at: datetime) -> datetime:
        """When a contact received at ``at`` counts from: ``at`` if open, else the next opening."""
        return self._local(at) if self.is_open(at) else self.next_opening(at)

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Open time between two instants; nights and days off do not count (0 if end <= start)."""
        s = self._local(start, "start").astimezone(UTC)
        e = self._local(end, "end").astimezone(UTC)
        if e <= s:
            return 0.0
        total = 0.0
        day, last = s.astimezone(self.tz).date(), e.astimezone(self.tz).date()
        while day <= last:
            window = self.hours_on(day)
            if window is not None:
                lo = max(s, window[0].astimezone(UTC))
                hi = min(e, window[1].astimezone(UTC))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total
