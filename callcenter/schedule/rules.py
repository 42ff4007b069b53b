"""Parse the ``[service]`` settings: weekly hours, the year-end closure, extra dates.

Pure functions, no imports from the rest of the package: ``ServiceConfig`` validates
with them (each ``ValueError`` message says what is wrong with which entry; the
problem is reported at the key), and ``BusinessCalendar.from_config`` builds from their results.

Formats:
- hours: ``"mon-fri 08:30-18:15"``; days are ``mon``..``sun``, a range ``mon-fri`` or a
  list ``mon,wed,fri``; one opening span per day, closing later the same day. A day
  named by no entry is closed.
- year-end closure: two ``"MM-DD"`` values, first and last closed day (inclusive,
  wrapping over New Year), or none.
- closed dates: ``"YYYY-MM-DD"``; open dates: ``"YYYY-MM-DD"`` (that weekday's hours,
  else the first ``hours`` entry's) or ``"YYYY-MM-DD HH:MM-HH:MM"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")
_SPAN_RE = re.compile(r"^(\d{2}:\d{2})-(\d{2}:\d{2})$")
_MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Span:
    """Opening hours of one day: [open, close), both on that day."""

    open: time
    close: time

    def __str__(self) -> str:
        return f"{self.open:%H:%M}-{self.close:%H:%M}"


def parse_time(text: str) -> time:
    m = _TIME_RE.match(text)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"{text!r} is not a time HH:MM (00:00-23:59)")
    return time(int(m[1]), int(m[2]))


def parse_span(text: str) -> Span:
    m = _SPAN_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a span HH:MM-HH:MM")
    span = Span(parse_time(m[1]), parse_time(m[2]))
    if span.close <= span.open:
        raise ValueError(f"{text!r}: closes before it opens (spans end the same day)")
    return span


def _parse_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        first, sep, last = part.partition("-")
        if first not in WEEKDAYS or (sep and last not in WEEKDAYS):
            raise ValueError(f"{text!r}: days are mon..sun, a range mon-fri or a list mon,wed")
        a = WEEKDAYS.index(first)
        b = WEEKDAYS.index(last) if sep else a
        if b < a:
            raise ValueError(f"{text!r}: a day range runs forwards, e.g. mon-fri")
        days.extend(range(a, b + 1))
    return days


def parse_hours(entries: Iterable[str]) -> dict[int, Span]:
    """``["mon-fri 08:30-18:15", "sat 09:00-12:00"]`` -> {weekday (Mon=0): span}."""
    weekly: dict[int, Span] = {}
    for entry in entries:
        parts = entry.lower().split()
        if len(parts) != 2:
            raise ValueError(f"{entry!r} is not 'DAYS HH:MM-HH:MM' (e.g. 'mon-fri 08:30-18:15')")
        days, span = _parse_days(parts[0]), parse_span(parts[1])
        for d in days:
            if d in weekly:
                raise ValueError(f"{entry!r}: {WEEKDAYS[d]} already has hours")
            weekly[d] = span
    if not weekly:
        raise ValueError("no opening day: the service would never open")
    return weekly


def parse_month_day(text: str) -> tuple[int, int]:
    m = _MONTH_DAY_RE.match(text)
    try:
        if not m:
            raise ValueError
        date(2000, int(m[1]), int(m[2]))  # a leap year: 02-29 is a valid closure day
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the year MM-DD") from None
    return int(m[1]), int(m[2])


def parse_year_end(values: Iterable[str]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``["12-29", "01-03"]`` -> ((12, 29), (1, 3)); ``[]`` -> None (no closure)."""
    items = list(values)
    if not items:
        return None
    if len(items) != 2:
        raise ValueError("two MM-DD values, the first and last closed day, or [] for none")
    return parse_month_day(items[0]), parse_month_day(items[1])


def parse_date(text: str) -> date:
    try:
        if not _DATE_RE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD") from None


def parse_closed_dates(values: Iterable[str]) -> frozenset[date]:
    return frozenset(parse_date(v) for v in values)


def parse_open_dates(values: Iterable[str]) -> dict[date, Span | None]:
    """``["2026-12-28", "2027-01-04 09:00-12:00"]`` -> {date: span, or None: usual hours}."""
    out: dict[date, Span | None] = {}
    for value in values:
        day, _, span = value.partition(" ")
        d = parse_date(day)
        if d in out:
            raise ValueError(f"{value!r}: {d} is listed twice")
        out[d] = parse_span(span.strip()) if span.strip() else None
    return out


def gotoiftime_rules(weekly: dict[int, Span], timezone: str) -> list[str]:
    """The weekly hours as ``GotoIfTime`` time specs, for the dialplan's fallback rule.

    GotoIfTime's end minute is inclusive, so a span closing at 18:15 ends at 18:14;
    consecutive days with the same span share one rule (``08:30-18:14,mon-fri,*,*,TZ``).
    """
    rules: list[str] = []
    days = sorted(weekly)
    i = 0
    while i < len(days):
        j = i
        while (
            j + 1 < len(days)
            and days[j + 1] == days[j] + 1
            and weekly[days[j + 1]] == weekly[days[i]]
        ):
            j += 1
        span = weekly[days[i]]
        last = span.close.hour * 60 + span.close.minute - 1
        dow = WEEKDAYS[days[i]] if i == j else f"{WEEKDAYS[days[i]]}-{WEEKDAYS[days[j]]}"
        rules.append(f"{span.open:%H:%M}-{last // 60:02d}:{last % 60:02d},{dow},*,*,{timezone}")
        i = j + 1
    return rules
