"""[service]: the service hours, the calendar, and the service mode the daemon keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class ServiceConfig:
    timezone: str = "Asia/Tokyo"  # days, hours and service hours are taken in this zone
    # Weekly opening hours: "DAYS HH:MM-HH:MM"; a day no entry names is closed.
    hours: tuple[str, ...] = ("mon-fri 08:30-18:15",)
    # Japanese national holidays (substitute holidays included) are always closed.
    year_end_closure: tuple[str, ...] = ("12-29", "01-03")  # first, last closed "MM-DD"
    closed_dates: tuple[str, ...] = ()  # extra closed days, "YYYY-MM-DD"
    open_dates: tuple[str, ...] = ()  # "YYYY-MM-DD" or "YYYY-MM-DD HH:MM-HH:MM": open anyway
    # The daemon writes AstDB callcenter/mode; false: someone else does (tests, a standby).
    manage_mode: bool = True
    # How long the daemon vouches for the mode it writes: past it, the dialplan's time rule.
    mode_ttl_seconds: float = 300.0
    # The after-hours message (時間外メッセージ): sound file(s), '&'-joined, no extension.
    after_hours_prompt: str = "im-sorry&please-try-call-later"

    def problems(self, prefix: str = "service") -> list[str]:
        """Every invalid value, read with the calendar's own parsers."""
        from callcenter.schedule import rules

        out: list[str] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(f"{prefix}.timezone: unknown time zone {self.timezone!r}")

        def parsed(key: str, parse: Any) -> Any:
            try:
                return parse(getattr(self, key))
            except ValueError as exc:
                out.append(f"{prefix}.{key}: {exc}")
                return None

        parsed("hours", rules.parse_hours)
        parsed("year_end_closure", rules.parse_year_end)
        closed = parsed("closed_dates", rules.parse_closed_dates) or ()
        for d in sorted(set(closed) & set(parsed("open_dates", rules.parse_open_dates) or ())):
            out.append(f"{prefix}.open_dates: {d} is also in {prefix}.closed_dates")
        if not 10 <= self.mode_ttl_seconds <= 86400:
            out.append(f"{prefix}.mode_ttl_seconds: between 10 and 86400 (a few minutes is best)")
        return out
