"""[service]: the service hours, the calendar, and the service mode the daemon keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from callcenter.schedule import rules
from callcenter.settings_base import Hint, Problem, Prompt, Settings


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def _read_with(parse: Callable[[Any], object]) -> AfterValidator:
    """Refused when the calendar's own parser cannot read it (its words, naming the bit)."""

    def check(value: tuple[str, ...]) -> tuple[str, ...]:
        parse(value)
        return value

    return AfterValidator(check)


class ServiceConfig(Settings):
    # days, hours and service hours are taken in this zone
    timezone: Annotated[str, AfterValidator(_zone)] = "Asia/Tokyo"
    # Weekly opening hours: "DAYS HH:MM-HH:MM"; a day no entry names is closed.
    hours: Annotated[tuple[str, ...], _read_with(rules.parse_hours)] = ("mon-fri 08:30-18:15",)
    # Japanese national holidays (substitute holidays included) are always closed.
    # first, last closed "MM-DD"
    year_end_closure: Annotated[tuple[str, ...], _read_with(rules.parse_year_end)] = (
        "12-29",
        "01-03",
    )
    # extra closed days, "YYYY-MM-DD"
    closed_dates: Annotated[tuple[str, ...], _read_with(rules.parse_closed_dates)] = ()
    # "YYYY-MM-DD" or "YYYY-MM-DD HH:MM-HH:MM": open anyway
    open_dates: Annotated[tuple[str, ...], _read_with(rules.parse_open_dates)] = ()
    # The daemon writes AstDB callcenter/mode; false: someone else does (tests, a standby).
    manage_mode: bool = True
    # How long the daemon vouches for the mode it writes: past it, the dialplan's time rule.
    mode_ttl_seconds: Annotated[
        float, Field(ge=10, le=86400), Hint("between 10 and 86400 (a few minutes is best)")
    ] = 300.0
    # The after-hours message (時間外メッセージ): sound file(s), '&'-joined, no extension.
    after_hours_prompt: Prompt = "im-sorry&please-try-call-later"

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        try:
            closed = set(rules.parse_closed_dates(self.closed_dates))
            opened = set(rules.parse_open_dates(self.open_dates))
        except ValueError:
            return  # reported with its key
        for d in sorted(closed & opened):
            yield Problem(("open_dates",), f"{d} is also in service.closed_dates")
