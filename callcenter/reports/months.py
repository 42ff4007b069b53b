"""Months as the reports name them ('YYYY-MM'), and their local days."""

from __future__ import annotations

from datetime import UTC

from callcenter.incidents.figures import month_range


def month_bounds(month: str) -> tuple[int, int, str, str]:
    """(year, month, first day, first day of the next month); ValueError names the flag."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start, end = month_range(year, mon, UTC) if 1970 <= year <= 9000 else (None, None)
    except (ValueError, OverflowError):
        raise ValueError(f"--month: {month!r} is not YYYY-MM") from None
    if start is None or end is None:
        # The month after December 9999 is no date, and nothing was recorded before 1970.
        raise ValueError(f"--month: {month!r} is out of range (1970-01 to 9000-12)")
    return year, mon, f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"


def add_months(month: str, n: int) -> str:
    """'YYYY-MM' moved by n months (n may be negative)."""
    year, mon = (int(x) for x in month.split("-"))
    index = year * 12 + (mon - 1) + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_ending(last: str, count: int) -> list[str]:
    """The ``count`` months that end with ``last``, oldest first."""
    return [add_months(last, k) for k in range(-(count - 1), 1)]
