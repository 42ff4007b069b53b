"""The five incident figures and the at-risk list, worked out by hand.

The calendar is the default service: Asia/Tokyo, Mon-Fri 08:30-18:15, Japanese national
holidays and Dec 29 - Jan 3 closed. November 2026: Mon 16, Fri 20, Mon 23 is
勤労感謝の日 (closed), Fri 27, Mon 30.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.incidents import lifecycle as lc
from callcenter.incidents.figures import (
    IncidentTargets,
    Risk,
    at_risk,
    escalation_hold_seconds,
    escalation_seconds,
    handling_seconds,
    incident_figures,
    month_range,
    monthly_figures,
    progress_seconds,
    satisfaction_score,
)
from callcenter.incidents.model import Incident, SurveyResponse
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.settings import ServiceConfig

TZ = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar.from_config(ServiceConfig())
MIN = 60.0


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def incident(id: int, received: datetime, *flags: str) -> Incident:
    inc, _ = lc.open_incident("agent1", received, received_at=received, id=id, flags=flags)
    return inc


def solved(id: int, received: datetime, resolved: datetime, *flags: str) -> Incident:
    inc, _ = lc.resolve(incident(id, received, *flags), "agent1", resolved)
    return inc


def escalated_case(
    id: int,
    received: datetime,
    escalated: datetime,
    progress: datetime | None,
    answered: datetime | None,
    resolved: datetime | None,
    *flags: str,
) -> Incident:
    """Steps in time order; a progress report is assumed to come before the answer."""
    inc, _ = lc.escalate(incident(id, received, *flags), "agent1", escalated, "vendor")
    if progress is not None:
        inc, _ = lc.report_progress(inc, "agent1", progress, "phone")
    if answered is not None:
        inc, _ = lc.answer_escalation(inc, "agent1", answered)
    if resolved is not None:
        inc, _ = lc.resolve(inc, "agent1", resolved)
    return inc


# -- one incident's clocks -----------------------------------------------------------


def test_a_weekend_between_does_not_count() -> None:
    # Fri 11-27 18:30 is after closing: it counts from Mon 11-30 08:30; resolved 08:40.
    inc = solved(1, jst(2026, 11, 27, 18, 30), jst(2026, 11, 30, 8, 40))
    assert CAL.received_effective(inc.received_at) == jst(2026, 11, 30, 8, 30)
    assert handling_seconds(inc, CAL) == 10 * MIN


def test_a_holiday_between_does_not_count() -> None:
    # Fri 11-20 18:30 -> Sat, Sun, Mon 11-23 (勤労感謝の日) closed -> Tue 11-24 08:30.
    # Resolved Tue 08:40: 10 minutes.
    inc = solved(1, jst(2026, 11, 20, 18, 30), jst(2026, 11, 24, 8, 40))
    assert handling_seconds(inc, CAL) == 10 * MIN


def test_the_year_end_closure_does_not_count() -> None:
    # Mon 12-28 18:00 -> 18:15 = 15 min; Dec 29 - Jan 3 closed; Mon 01-04 08:30 -> 08:45
    # = 15 min. Total 30 min.
    inc = solved(1, jst(2026, 12, 28, 18, 0), jst(2027, 1, 4, 8, 45))
    assert handling_seconds(inc, CAL) == 30 * MIN


def test_an_escalation_hold_over_the_night_is_subtracted() -> None:
    # Received Wed 11-18 17:00, escalated 17:55, answered Thu 09:00, resolved Thu 09:30.
    # Span:  17:00 -> 18:15 = 75 min, 08:30 -> 09:30 = 60 min: 135 min.
    # Hold:  17:55 -> 18:15 = 20 min, 08:30 -> 09:00 = 30 min:  50 min.
    # Handling 135 - 50 = 85 min; escalation time 17:00 -> 17:55 = 55 min.
    inc = escalated_case(
        1,
        jst(2026, 11, 18, 17, 0),
        jst(2026, 11, 18, 17, 55),
        None,
        jst(2026, 11, 19, 9, 0),
        jst(2026, 11, 19, 9, 30),
    )
    assert escalation_hold_seconds(inc, CAL, jst(2026, 11, 19, 9, 30)) == 50 * MIN
    assert handling_seconds(inc, CAL) == 85 * MIN
    assert escalation_seconds(inc, CAL) == 55 * MIN


def test_an_escalation_before_opening_is_clipped_to_the_incident_clock() -> None:
    # Received and escalated at 07:00, before opening (the clock starts at 08:30);
    # answered 09:00, resolved 09:10. Span 08:30 -> 09:10 = 40 min; hold 08:30 -> 09:00
    # = 30 min (not 07:00 -> 09:00); handling 10 min; escalation time 0.
    inc = escalated_case(
        1,
        jst(2026, 11, 18, 7, 0),
        jst(2026, 11, 18, 7, 0),
        None,
        jst(2026, 11, 18, 9, 0),
        jst(2026, 11, 18, 9, 10),
    )
    assert handling_seconds(inc, CAL) == 10 * MIN
    assert escalation_seconds(inc, CAL) == 0.0


def test_clocks_of_an_unresolved_or_unescalated_incident() -> None:
    inc = incident(1, jst(2026, 11, 18, 10, 0))
    assert handling_seconds(inc, CAL) is None
    assert handling_seconds(inc, CAL, until=jst(2026, 11, 18, 10, 30)) == 30 * MIN
    assert escalation_seconds(inc, CAL) is None
    assert progress_seconds(inc, CAL) is None
    assert escalation_hold_seconds(inc, CAL, jst(2026, 11, 18, 11, 0)) == 0.0


def test_satisfaction_of_one_respondent() -> None:
    # 5 -> 100, 3 -> 60: (100 + 60) / 2 = 80. 不満 (1) is 0, not 20.
    assert satisfaction_score((5, 3)) == 80.0
    assert satisfaction_score((1,)) == 0.0
    assert satisfaction_score((2, 4)) == 60.0
    assert satisfaction_score(()) is None


# -- a month -------------------------------------------------------------------------

NOVEMBER = [
    # A: Mon 11-16 10:00 -> 10:20 = 20 min, first line.
    solved(1, jst(2026, 11, 16, 10, 0), jst(2026, 11, 16, 10, 20)),
    # B: Fri 11-20 18:30 -> Tue 11-24 08:40 over the holiday = 10 min, first line.
    solved(2, jst(2026, 11, 20, 18, 30), jst(2026, 11, 24, 8, 40)),
    # C: the night escalation: handling 85 min, escalation 55 min; progress report Thu
    # 08:45: 17:00 -> 18:15 = 75 min + 08:30 -> 08:45 = 15 min = 90 min.
    escalated_case(
        3,
        jst(2026, 11, 18, 17, 0),
        jst(2026, 11, 18, 17, 55),
        jst(2026, 11, 19, 8, 45),
        jst(2026, 11, 19, 9, 0),
        jst(2026, 11, 19, 9, 30),
    ),
    # D: suspected virus: escalated after 5 min, resolved while escalated. Out of FCR and
    # handling; in escalation time (5 min); no progress report.
    escalated_case(
        4,
        jst(2026, 11, 17, 9, 0),
        jst(2026, 11, 17, 9, 5),
        None,
        None,
        jst(2026, 11, 17, 13, 5),
        "technical_investigation",
    ),
    # E: vendor investigation, caller set the contact time: escalated after 10 min,
    # reported at 40 min. In FCR (escalated: not resolved first contact) and escalation
    # time (10 min); out of handling and progress.
    escalated_case(
        5,
        jst(2026, 11, 19, 14, 0),
        jst(2026, 11, 19, 14, 10),
        jst(2026, 11, 19, 14, 40),
        jst(2026, 11, 19, 15, 0),
        jst(2026, 11, 19, 15, 30),
        "vendor_investigation",
        "caller_set_contact_time",
    ),
    # F: Mon 11-30 18:00, not resolved yet: in FCR's denominator only.
    incident(6, jst(2026, 11, 30, 18, 0)),
    # G: Sat 10-31 10:00: its clock starts Mon 11-02 08:30, but it was received in October.
    solved(7, jst(2026, 10, 31, 10, 0), jst(2026, 11, 2, 8, 50)),
    # H: received at the first instant of December.
    solved(8, jst(2026, 12, 1, 0, 0), jst(2026, 12, 1, 9, 0)),
]
SURVEYS = [
    SurveyResponse("A", 1, (5,), jst(2026, 11, 16, 11, 0)),
    SurveyResponse("A", 3, (3,), jst(2026, 11, 19, 10, 0)),  # A: (100 + 60) / 2 = 80
    SurveyResponse("B", 2, (1,), jst(2026, 11, 24, 9, 0)),  # B: 0
    SurveyResponse("C", None, (), jst(2026, 11, 25, 9, 0)),  # no answers: not a respondent
    SurveyResponse("D", 6, (5,), jst(2026, 12, 1, 0, 0)),  # December
]


def test_november() -> None:
    f = monthly_figures(NOVEMBER, SURVEYS, CAL, 2026, 11)
    assert (f.incidents, f.unresolved) == (6, 1)  # A-F; F unresolved
    # FCR: A, B, C, E, F taken (D excluded); A, B resolved without escalation: 2 / 5.
    assert (f.first_contact_resolution.count, f.first_contact_resolution.total) == (5, 2)
    assert f.first_contact_resolution.value == 0.4
    assert f.first_contact_resolution.met is False
    # Handling: A 20, B 10, C 85 min: 115 / 3 min = 2300 s.
    assert f.handling_seconds.count == 3
    assert f.handling_seconds.value == pytest.approx(2300.0)
    assert f.handling_seconds.met is False  # > 1800
    # Escalation: C 55, D 5, E 10 min: 70 / 3 min = 1400 s.
    assert f.escalation_seconds.count == 3
    assert f.escalation_seconds.value == pytest.approx(1400.0)
    assert f.escalation_seconds.met is False  # > 600
    # Progress: C 90 min only (D has no report, E set its contact time).
    assert f.progress_seconds.count == 1
    assert f.progress_seconds.value == 90 * MIN
    # Satisfaction: A 80, B 0: mean 40, over 2 respondents.
    assert (f.satisfaction.count, f.satisfaction.value, f.satisfaction.met) == (2, 40.0, False)


def test_october_holds_the_incident_received_on_its_last_saturday() -> None:
    # G: counts from Mon 11-02 08:30, resolved 08:50: 20 min, but it is October's.
    f = monthly_figures(NOVEMBER, SURVEYS, CAL, 2026, 10)
    assert f.incidents == 1
    assert f.handling_seconds.value == 20 * MIN
    assert f.first_contact_resolution.value == 1.0
    assert f.first_contact_resolution.met is True
    assert f.escalation_seconds.value is None
    assert f.escalation_seconds.met is None  # nothing escalated: nothing to meet
    assert f.satisfaction.count == 0


def test_targets_met() -> None:
    # Two first-line incidents of 20 and 10 min: FCR 1.0, handling 15 min.
    incs = [
        solved(1, jst(2026, 11, 16, 10, 0), jst(2026, 11, 16, 10, 20)),
        solved(2, jst(2026, 11, 16, 11, 0), jst(2026, 11, 16, 11, 10)),
    ]
    f = monthly_figures(incs, [SurveyResponse("A", 1, (4, 4), jst(2026, 11, 17))], CAL, 2026, 11)
    assert f.handling_seconds.value == 15 * MIN
    assert f.handling_seconds.met is True
    assert f.first_contact_resolution.met is True
    assert f.satisfaction.value == 80.0
    assert f.satisfaction.met is True
    # At the target itself is met: 900 s against a 900 s target.
    strict = IncidentTargets(handling_seconds=900.0)
    assert monthly_figures(incs, [], CAL, 2026, 11, strict).handling_seconds.met is True


def test_satisfaction_averages_respondents_not_answers() -> None:
    # A: 5, 5, 3 -> (100 + 100 + 60) / 3 = 86.67; B: 1 -> 0. Mean (86.67 + 0) / 2 = 43.33.
    # (Averaging the four answers would give 260 / 4 = 65.)
    responses = [
        SurveyResponse("A", 1, (5, 5), jst(2026, 11, 16, 12, 0)),
        SurveyResponse("A", 2, (3,), jst(2026, 11, 17, 12, 0)),
        SurveyResponse("B", 3, (1,), jst(2026, 11, 17, 12, 0)),
    ]
    f = monthly_figures([], responses, CAL, 2026, 11)
    assert f.satisfaction.value == pytest.approx(130 / 3)
    assert f.first_contact_resolution.value is None
    assert f.first_contact_resolution.met is None


def test_the_month_is_taken_in_the_service_time_zone() -> None:
    start, end = month_range(2026, 11, TZ)
    assert (start, end) == (jst(2026, 11, 1), jst(2026, 12, 1))
    # 2026-10-31 15:30 UTC is 11-01 00:30 in Tokyo: November's.
    utc_late = datetime.fromisoformat("2026-10-31T15:30:00+00:00")
    f = incident_figures([incident(1, utc_late)], [], CAL, start, end)
    assert f.incidents == 1
    assert month_range(2026, 12, TZ)[1] == jst(2027, 1, 1)
    with pytest.raises(ValueError, match="month"):
        month_range(2026, 13, TZ)


def test_to_dict() -> None:
    d = monthly_figures(NOVEMBER, SURVEYS, CAL, 2026, 11).to_dict()
    assert d["start"] == "2026-11-01T00:00:00+09:00"
    assert d["first_contact_resolution"] == {"value": 0.4, "count": 5, "target": 0.9, "met": False}
    assert d["progress_seconds"]["value"] == 5400.0


def test_bad_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="first_contact_resolution"):
        IncidentTargets(first_contact_resolution=90)
    with pytest.raises(ValueError, match="handling_seconds"):
        IncidentTargets(handling_seconds=0)


# -- at risk now ---------------------------------------------------------------------

NOW = jst(2026, 11, 19, 10, 0)  # Thursday


def test_at_risk() -> None:
    incs = [
        # 1: received 09:00: 60 min on the handling clock > 30: breached (2.0x).
        incident(1, jst(2026, 11, 19, 9, 0)),
        # 2: received 09:35: 25 min >= 0.8 x 30 = 24 min: at risk.
        incident(2, jst(2026, 11, 19, 9, 35)),
        # 3: received 09:50: 10 min: fine.
        incident(3, jst(2026, 11, 19, 9, 50)),
        # 4: received Wed 18:00, escalated 18:05, no answer, no report.
        #    Clock: 18:00 -> 18:15 = 15 min + 08:30 -> 10:00 = 90 min = 105 min.
        #    Hold so far: 18:05 -> 18:15 = 10 + 90 = 100 min; handling 5 min: fine.
        #    Progress: 105 min > 30, no report yet: breached (3.5x).
        escalated_case(4, jst(2026, 11, 18, 18, 0), jst(2026, 11, 18, 18, 5), None, None, None),
        # 5: as 4, but the caller set the contact time: no progress clock.
        escalated_case(
            5,
            jst(2026, 11, 18, 18, 0),
            jst(2026, 11, 18, 18, 5),
            None,
            None,
            None,
            "caller_set_contact_time",
        ),
        # 6: vendor investigation since opening: out of handling time.
        incident(6, jst(2026, 11, 19, 8, 30), "vendor_investigation"),
        # 7: resolved: its clock has stopped.
        solved(7, jst(2026, 11, 19, 8, 30), jst(2026, 11, 19, 9, 30)),
        # 8: received 07:00 (before opening): counts from 08:30: 90 min, breached (3.0x).
        incident(8, jst(2026, 11, 19, 7, 0)),
    ]
    assert at_risk(incs, NOW, CAL) == [
        Risk(4, "progress_seconds", 105 * MIN, 1800.0, "breached"),
        Risk(8, "handling_seconds", 90 * MIN, 1800.0, "breached"),
        Risk(1, "handling_seconds", 60 * MIN, 1800.0, "breached"),
        Risk(2, "handling_seconds", 25 * MIN, 1800.0, "at_risk"),
    ]


def test_a_progress_report_stops_the_progress_clock() -> None:
    inc = escalated_case(
        1, jst(2026, 11, 19, 9, 0), jst(2026, 11, 19, 9, 5), jst(2026, 11, 19, 9, 20), None, None
    )
    # Handling: 60 min span - 55 min hold = 5 min; progress reported: nothing at risk.
    assert at_risk([inc], NOW, CAL) == []


def test_warn_fraction() -> None:
    inc = incident(2, jst(2026, 11, 19, 9, 35))  # 25 min
    assert at_risk([inc], NOW, CAL, warn_fraction=0.9) == []  # 25 < 27
    assert at_risk([inc], NOW, CAL, IncidentTargets(handling_seconds=20 * MIN))[0].state == (
        "breached"
    )
    with pytest.raises(ValueError, match="warn_fraction"):
        at_risk([inc], NOW, CAL, warn_fraction=0)
