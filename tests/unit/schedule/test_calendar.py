"""The business calendar: holidays from the library, hours, closures, business time.

The expected holidays are written out here (the Cabinet Office's lists for 2026 and
2027), so a library update that changes any of them fails this test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.config import Config, ConfigError, parse_config
from callcenter.dialplan.render import render_mode_fallback
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.rules import Span, gotoiftime_rules, parse_hours
from callcenter.schedule.settings import ServiceConfig

from .support import TZ, jst

HOLIDAYS_2026_2027 = {
    date(2026, 1, 1): "New Year's Day",
    date(2026, 1, 12): "Coming of Age Day",
    date(2026, 2, 11): "Foundation Day",
    date(2026, 2, 23): "Emperor's Birthday",
    date(2026, 3, 20): "Vernal Equinox Day",
    date(2026, 4, 29): "Showa Day",
    date(2026, 5, 3): "Constitution Day (a Sunday)",
    date(2026, 5, 4): "Greenery Day",
    date(2026, 5, 5): "Children's Day",
    date(2026, 5, 6): "substitute holiday for May 3",
    date(2026, 7, 20): "Marine Day",
    date(2026, 8, 11): "Mountain Day",
    date(2026, 9, 21): "Respect for the Aged Day",
    date(2026, 9, 22): "National Holiday (between two holidays)",
    date(2026, 9, 23): "Autumnal Equinox Day",
    date(2026, 10, 12): "Sports Day",
    date(2026, 11, 3): "Culture Day",
    date(2026, 11, 23): "Labor Thanksgiving Day",
    date(2027, 1, 1): "New Year's Day",
    date(2027, 1, 11): "Coming of Age Day",
    date(2027, 2, 11): "Foundation Day",
    date(2027, 2, 23): "Emperor's Birthday",
    date(2027, 3, 21): "Vernal Equinox Day (a Sunday)",
    date(2027, 3, 22): "substitute holiday for March 21",
    date(2027, 4, 29): "Showa Day",
    date(2027, 5, 3): "Constitution Day",
    date(2027, 5, 4): "Greenery Day",
    date(2027, 5, 5): "Children's Day",
    date(2027, 7, 19): "Marine Day",
    date(2027, 8, 11): "Mountain Day",
    date(2027, 9, 20): "Respect for the Aged Day",
    date(2027, 9, 23): "Autumnal Equinox Day",
    date(2027, 10, 11): "Sports Day",
    date(2027, 11, 3): "Culture Day",
    date(2027, 11, 23): "Labor Thanksgiving Day",
}

# Ordinary operating days (no holiday, no closure), Monday to Friday.
WEEKDAYS = [
    date(2026, 11, 24),  # Tuesday after Labor Thanksgiving Day
    date(2026, 11, 27),  # Friday
    date(2026, 12, 28),  # Monday, the last day before the year-end closure
    date(2027, 1, 4),  # Monday, the first day after it
    date(2026, 9, 24),  # Thursday after the September holidays
    date(2027, 3, 23),  # Tuesday after the substitute holiday
    date(2026, 5, 7),  # Thursday after Golden Week
]

CAL = BusinessCalendar.from_config(ServiceConfig())
DIALPLAN = Path(__file__).resolve().parents[3] / "callcenter" / "dialplan" / "callcenter.conf"


def cal(**service: object) -> BusinessCalendar:
    return BusinessCalendar.from_config(parse_config({"service": service}).service)


def at(day: date, hh: int, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss, us), tzinfo=TZ)


# -- holidays ---------------------------------------------------------------------------


def test_the_library_knows_exactly_these_holidays() -> None:
    for year in (2026, 2027):  # the library fills a year in when first asked about it
        CAL.holiday_name(date(year, 1, 1))
    got = {d for d in CAL.holidays if d.year in (2026, 2027)}
    assert got == set(HOLIDAYS_2026_2027)


@pytest.mark.parametrize("day", sorted(HOLIDAYS_2026_2027), ids=str)
def test_every_national_holiday_is_closed_all_day(day: date) -> None:
    assert not CAL.is_operating_day(day)
    assert CAL.day_off_reason(day) == "holiday"
    assert CAL.holiday_name(day)
    for hh, mm, ss in ((0, 0, 0), (8, 30, 0), (10, 0, 0), (12, 0, 0), (18, 14, 59), (23, 59, 59)):
        assert not CAL.is_open(at(day, hh, mm, ss)), (day, hh, mm, ss)
    assert CAL.hours_on(day) is None


# -- weekly hours -----------------------------------------------------------------------

BOUNDARIES = [
    ((0, 0, 0, 0), False),
    ((8, 29, 59, 999999), False),
    ((8, 29, 59, 0), False),
    ((8, 30, 0, 0), True),
    ((12, 0, 0, 0), True),
    ((18, 14, 59, 0), True),
    ((18, 14, 59, 999999), True),
    ((18, 15, 0, 0), False),
    ((23, 59, 59, 0), False),
]


@pytest.mark.parametrize("day", WEEKDAYS, ids=str)
@pytest.mark.parametrize(("hms", "is_open"), BOUNDARIES, ids=lambda v: str(v))
def test_weekday_hours_are_0830_to_1815(
    day: date, hms: tuple[int, int, int, int], is_open: bool
) -> None:
    assert CAL.is_operating_day(day)
    assert CAL.is_open(at(day, *hms)) is is_open


@pytest.mark.parametrize("day", [date(2026, 11, 21), date(2026, 11, 22), date(2027, 6, 5)])
def test_weekends_are_closed(day: date) -> None:
    assert day.weekday() >= 5
    assert CAL.day_off_reason(day) == "hours"
    assert not any(CAL.is_open(at(day, h)) for h in range(24))


def test_instants_in_other_zones_are_taken_in_tokyo() -> None:
    # 2026-11-24 23:30 UTC is Wednesday 08:30 in Tokyo.
    assert CAL.is_open(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    assert not CAL.is_open(datetime(2026, 11, 24, 23, 29, 59, tzinfo=UTC))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        CAL.is_open(datetime(2026, 11, 24, 10, 0))


def test_weekly_hours_from_config() -> None:
    c = cal(hours=["mon-thu 08:30-18:15", "fri 08:30-17:00", "sat 09:00-12:00"])
    fri, sat = date(2026, 11, 27), date(2026, 11, 28)
    assert c.is_open(at(fri, 16, 59, 59))
    assert not c.is_open(at(fri, 17))
    assert c.is_open(at(sat, 9))
    assert not c.is_open(at(sat, 12))
    assert c.day_off_reason(date(2026, 11, 29)) == "hours"  # Sunday


# -- year-end closure and extra dates ---------------------------------------------------


@pytest.mark.parametrize(
    ("day", "operating"),
    [
        (date(2026, 12, 28), True),
        (date(2026, 12, 29), False),
        (date(2026, 12, 30), False),
        (date(2026, 12, 31), False),
        (date(2027, 1, 1), False),
        (date(2027, 1, 2), False),
        (date(2027, 1, 3), False),
        (date(2027, 1, 4), True),
    ],
)
def test_year_end_closure(day: date, operating: bool) -> None:
    assert CAL.is_operating_day(day) is operating
    assert CAL.is_open(at(day, 10)) is operating
    if day in (date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)):
        assert CAL.day_off_reason(day) == "year_end"  # weekdays closed only by the closure


def test_year_end_closure_is_configurable() -> None:
    none = cal(year_end_closure=[])
    assert none.is_open(at(date(2026, 12, 29), 10))
    assert not none.is_open(at(date(2027, 1, 1), 10))  # still New Year's Day
    longer = cal(year_end_closure=["12-28", "01-05"])
    assert not longer.is_open(at(date(2026, 12, 28), 10))
    assert not longer.is_open(at(date(2027, 1, 5), 10))
    assert longer.is_open(at(date(2027, 1, 6), 10))


def test_extra_closed_and_open_dates() -> None:
    c = cal(
        closed_dates=["2026-11-24", "2026-11-26"],
        open_dates=["2026-11-21", "2026-11-23 09:00-12:00", "2026-12-29"],
    )
    assert c.day_off_reason(date(2026, 11, 24)) == "closed_day"
    assert not c.is_open(at(date(2026, 11, 24), 10))
    assert c.is_open(at(date(2026, 11, 25), 10))  # the day between is untouched
    sat = date(2026, 11, 21)  # a Saturday, open with the usual hours
    assert c.is_open(at(sat, 8, 30))
    assert not c.is_open(at(sat, 18, 15))
    holiday = date(2026, 11, 23)  # open on a holiday, short hours
    assert c.is_open(at(holiday, 9))
    assert not c.is_open(at(holiday, 12))
    assert c.is_open(at(date(2026, 12, 29), 10))  # inside the closure, open anyway
    assert not c.is_open(at(date(2026, 12, 30), 10))


# -- boundaries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (jst(2026, 11, 24, 10), jst(2026, 11, 24, 18, 15)),
        (jst(2026, 11, 24, 18, 14, 59), jst(2026, 11, 24, 18, 15)),
        (jst(2026, 11, 24, 18, 15), jst(2026, 11, 25, 8, 30)),
        (jst(2026, 11, 25, 8, 29, 59), jst(2026, 11, 25, 8, 30)),
        (jst(2026, 11, 25, 8, 30), jst(2026, 11, 25, 18, 15)),
        # Friday evening -> Monday, across a plain weekend
        (jst(2026, 11, 27, 18, 15), jst(2026, 11, 30, 8, 30)),
        # Friday evening -> Tuesday: the weekend and Labor Thanksgiving Day (Mon)
        (jst(2026, 11, 20, 18, 20), jst(2026, 11, 24, 8, 30)),
        # Friday 2026-09-18 -> Thursday: the weekend and three holidays in a row
        (jst(2026, 9, 18, 18, 15), jst(2026, 9, 24, 8, 30)),
        # on a holiday itself
        (jst(2026, 9, 22, 12), jst(2026, 9, 24, 8, 30)),
        # the year-end closure
        (jst(2026, 12, 28, 18, 15), jst(2027, 1, 4, 8, 30)),
        # a UTC instant: 2026-11-24 09:15 UTC is 18:15 in Tokyo
        (datetime(2026, 11, 24, 9, 14, tzinfo=UTC), jst(2026, 11, 24, 18, 15)),
    ],
)
def test_next_change(after: datetime, expected: datetime) -> None:
    got = CAL.next_change(after)
    assert got == expected
    assert got.tzinfo == TZ


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (jst(2026, 11, 24, 8, 30), jst(2026, 11, 24, 8, 30)),  # an opening is its own
        (jst(2026, 11, 24, 8, 29, 59), jst(2026, 11, 24, 8, 30)),
        (jst(2026, 11, 24, 10), jst(2026, 11, 25, 8, 30)),
        (jst(2026, 11, 27, 18, 30), jst(2026, 11, 30, 8, 30)),
        (jst(2026, 11, 22, 12), jst(2026, 11, 24, 8, 30)),  # Sunday before a holiday
    ],
)
def test_next_opening(when: datetime, expected: datetime) -> None:
    assert CAL.next_opening(when) == expected


def test_no_opening_at_all_is_an_error() -> None:
    c = BusinessCalendar(
        weekly={0: Span(time(8, 30), time(18, 15))},
        closed_dates=[date(2026, 11, 30) + timedelta(weeks=w) for w in range(200)],
        national_holidays={},
    )
    with pytest.raises(ValueError, match="does not open"):
        c.next_change(jst(2026, 11, 30, 9))


# -- business time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        pytest.param(jst(2026, 11, 27, 18, 30), jst(2026, 11, 30, 8, 40), 600, id="fri-night-mon"),
        pytest.param(
            jst(2026, 11, 20, 18, 30), jst(2026, 11, 24, 8, 40), 600, id="weekend+holiday"
        ),
        pytest.param(
            jst(2026, 9, 18, 17, 15), jst(2026, 9, 24, 9, 0), 3600 + 1800, id="silver-week"
        ),
        pytest.param(jst(2026, 11, 30, 17, 0), jst(2026, 12, 1, 9, 0), 6300, id="the-night"),
        pytest.param(jst(2026, 11, 30, 10, 0), jst(2026, 11, 30, 11, 0), 3600, id="same-hour"),
        pytest.param(jst(2026, 11, 30, 8, 30), jst(2026, 11, 30, 18, 15), 35100, id="a-day"),
        pytest.param(jst(2026, 11, 30, 8, 30), jst(2026, 12, 4, 18, 15), 5 * 35100, id="a-week"),
        pytest.param(jst(2026, 12, 28, 18, 0), jst(2027, 1, 4, 9, 0), 2700, id="year-end"),
        pytest.param(jst(2026, 11, 28, 10, 0), jst(2026, 11, 30, 8, 40), 600, id="sat-contact"),
        pytest.param(jst(2026, 11, 28, 10, 0), jst(2026, 11, 29, 10, 0), 0, id="weekend-only"),
        pytest.param(jst(2026, 11, 30, 11, 0), jst(2026, 11, 30, 10, 0), 0, id="end<start"),
        pytest.param(
            datetime(2026, 11, 30, 0, 0, tzinfo=UTC),  # 09:00 JST
            datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
            3600,
            id="utc-instants",
        ),
    ],
)
def test_business_seconds(start: datetime, end: datetime, seconds: float) -> None:
    assert CAL.business_seconds(start, end) == seconds


@pytest.mark.parametrize(
    ("received", "effective"),
    [
        (jst(2026, 11, 27, 18, 30), jst(2026, 11, 30, 8, 30)),  # Friday night -> Monday
        (jst(2026, 11, 22, 10), jst(2026, 11, 24, 8, 30)),  # Sunday before a holiday
        (jst(2026, 11, 24, 8, 29, 59), jst(2026, 11, 24, 8, 30)),
        (jst(2026, 11, 24, 18, 15), jst(2026, 11, 25, 8, 30)),
        (jst(2026, 11, 24, 10, 5), jst(2026, 11, 24, 10, 5)),  # in hours: as received
        (jst(2026, 12, 29, 10), jst(2027, 1, 4, 8, 30)),
    ],
)
def test_received_effective(received: datetime, effective: datetime) -> None:
    assert CAL.received_effective(received) == effective


# -- properties -------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(TZ)
)


@settings(max_examples=300, database=None, deadline=None)
@given(instants)
def test_open_is_constant_until_next_change_and_flips_there(t: datetime) -> None:
    change = CAL.next_change(t)
    assert change > t
    assert CAL.is_open(change - timedelta(microseconds=1)) is CAL.is_open(t)
    assert CAL.is_open(change) is not CAL.is_open(t)
    expected = (change - t).total_seconds() if CAL.is_open(t) else 0.0
    assert CAL.business_seconds(t, change) == pytest.approx(expected)


@settings(max_examples=300, database=None, deadline=None)
@given(instants, instants, instants)
def test_business_seconds_add_up_and_start_from_the_effective_receipt(
    a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    total = CAL.business_seconds(a, c)
    assert total == pytest.approx(CAL.business_seconds(a, b) + CAL.business_seconds(b, c))
    assert 0 <= total <= (c - a).total_seconds()
    eff = CAL.received_effective(a)
    if eff <= c:
        assert CAL.business_seconds(eff, c) == pytest.approx(total)
    else:
        assert total == 0


# -- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({"hours": "mon-fri 08:30-18:15"}, "service.hours: must be a list of strings"),
        ({"hours": ["mon-fri 8:30-18:15"]}, "service.hours: '8:30-18:15' is not a span"),
        ({"hours": ["weekdays 08:30-18:15"]}, "service.hours: 'weekdays': days are mon..sun"),
        ({"hours": ["fri-mon 08:30-18:15"]}, "service.hours: 'fri-mon': a day range runs"),
        ({"hours": ["mon-fri 18:15-08:30"]}, "service.hours: '18:15-08:30': closes before"),
        ({"hours": ["mon-fri 08:30-24:00"]}, "service.hours: '24:00' is not a time"),
        ({"hours": ["mon-fri 08:30-18:15", "fri 09:00-12:00"]}, "service.hours: 'fri 09:00"),
        ({"hours": []}, "service.hours: no opening day"),
        ({"year_end_closure": ["12-29"]}, "service.year_end_closure: two MM-DD values"),
        ({"year_end_closure": ["12-32", "01-03"]}, "service.year_end_closure: '12-32' is not"),
        ({"closed_dates": ["2026-02-30"]}, "service.closed_dates: '2026-02-30' is not a date"),
        ({"closed_dates": ["2026/12/28"]}, "service.closed_dates: '2026/12/28' is not a date"),
        ({"open_dates": ["2026-11-23 9-12"]}, "service.open_dates: '9-12' is not a span"),
        (
            {"closed_dates": ["2026-11-24"], "open_dates": ["2026-11-24"]},
            "service.open_dates: 2026-11-24 is also in service.closed_dates",
        ),
        ({"mode_ttl_seconds": 5}, "service.mode_ttl_seconds: between 10 and 86400"),
        ({"mode_ttl_seconds": "300"}, "service.mode_ttl_seconds: must be a number"),
        ({"manage_mode": "no"}, "service.manage_mode: must be a boolean"),
    ],
)
def test_bad_service_settings_name_the_key(service: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"service": service})
    assert any(p.startswith(expected) for p in exc.value.problems), exc.value.problems


def test_good_service_settings_are_accepted() -> None:
    svc = parse_config(
        {
            "service": {
                "hours": ["mon,wed,fri 09:00-17:00"],
                "year_end_closure": ["02-29", "03-01"],
                "closed_dates": ["2026-12-25"],
                "open_dates": ["2026-11-23 09:00-12:00"],
                "mode_ttl_seconds": 60,
            }
        }
    ).service
    assert svc.mode_ttl_seconds == 60.0
    c = BusinessCalendar.from_config(svc)
    assert sorted(c.weekly) == [0, 2, 4]
    assert c.is_open(at(date(2026, 11, 23), 9))


# -- the dialplan's fallback ------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "rules"),
    [
        (["mon-fri 08:30-18:15"], ["08:30-18:14,mon-fri,*,*,Asia/Tokyo"]),
        (
            ["mon-thu 08:30-18:15", "fri 08:30-17:00", "sun 10:00-10:01"],
            [
                "08:30-18:14,mon-thu,*,*,Asia/Tokyo",
                "08:30-16:59,fri,*,*,Asia/Tokyo",
                "10:00-10:00,sun,*,*,Asia/Tokyo",
            ],
        ),
        (
            ["mon,wed 09:00-17:00"],
            ["09:00-16:59,mon,*,*,Asia/Tokyo", "09:00-16:59,wed,*,*,Asia/Tokyo"],
        ),
    ],
)
def test_gotoiftime_rules(hours: list[str], rules: list[str]) -> None:
    assert gotoiftime_rules(parse_hours(hours), "Asia/Tokyo") == rules


def test_the_dialplans_fallback_rule_matches_the_default_hours() -> None:
    # The rendered fallback takes over when the daemon is down: its weekly rule must say
    # what the [service] hours say (holidays are listed apart, as YYYYMMDD extensions).
    svc = ServiceConfig()
    (rule,) = gotoiftime_rules(parse_hours(svc.hours), svc.timezone)
    text = render_mode_fallback(Config().service, 2026)
    assert f"GotoIfTime({rule}?open)" in text
    assert "Gosub(callcenter-mode-fallback,s,1)" in DIALPLAN.read_text(encoding="utf-8")
