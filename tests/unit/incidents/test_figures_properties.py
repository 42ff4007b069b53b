"""Random incident histories: the figures stay in range and their counts add up.

Each incident is received somewhere in October to December 2026 (nights, weekends,
holidays and the year-end closure included) and then goes through random actions at
random later times; actions the lifecycle refuses are skipped, as a user's would be.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.incidents import lifecycle as lc
from callcenter.incidents.figures import (
    FCR_EXCLUDED,
    HANDLING_EXCLUDED,
    PROGRESS_EXCLUDED,
    at_risk,
    clock_start,
    escalation_seconds,
    handling_seconds,
    monthly_figures,
    progress_seconds,
)
from callcenter.incidents.model import (
    FLAGS,
    HistoryEntry,
    Incident,
    IncidentError,
    SurveyResponse,
    utc,
)
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.settings import ServiceConfig

TZ = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar.from_config(ServiceConfig())
START = datetime(2026, 10, 1, tzinfo=TZ)
MONTHS = [(2026, 10), (2026, 11), (2026, 12)]
ACTIONS = ("start", "escalate", "answer", "report", "resolve", "close", "reopen", "flag")

steps = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.integers(0, 3 * 24 * 60)), max_size=8
)  # (action, minutes after the previous step)
plans = st.tuples(
    st.integers(0, 91 * 24 * 60 - 1),  # minutes after Oct 1 00:00: up to Dec 31
    st.frozensets(st.sampled_from(FLAGS)),
    steps,
)


Plan = tuple[int, frozenset[str], list[tuple[str, int]]]


def play(n: int, plan: Plan) -> Incident:
    return play_with_history(n, plan)[0]


def play_with_history(n: int, plan: Plan) -> tuple[Incident, list[HistoryEntry]]:
    offset, flags, actions = plan
    at = START + timedelta(minutes=offset)
    inc, created = lc.open_incident("agent", at, id=n, flags=flags)
    history = [created]
    for action, gap in actions:
        at += timedelta(minutes=gap)
        try:
            if action == "start":
                inc, entry = lc.start(inc, "agent", at)
            elif action == "escalate":
                inc, entry = lc.escalate(inc, "agent", at, "vendor")
            elif action == "answer":
                inc, entry = lc.answer_escalation(inc, "agent", at)
            elif action == "report":
                inc, entry = lc.report_progress(inc, "agent", at, "phone")
            elif action == "resolve":
                inc, entry = lc.resolve(inc, "agent", at)
            elif action == "close":
                inc, entry = lc.close(inc, "agent", at)
            elif action == "reopen":
                inc, entry = lc.reopen(inc, "agent", at)
            else:
                inc, entry = lc.update(inc, "agent", at, flags=flags ^ {"vendor_investigation"})
        except IncidentError as err:
            if err.field != "status":  # times only move forward here: nothing else is wrong
                raise
        else:
            history.append(entry)
    return inc, history


surveys = st.lists(
    st.builds(
        SurveyResponse,
        st.sampled_from(["A", "B", "C", "D"]),
        st.none(),
        st.lists(st.integers(1, 5), max_size=4).map(tuple),
        st.integers(0, 91 * 24 * 60 - 1).map(lambda m: START + timedelta(minutes=m)),
    ),
    max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(plans, max_size=12), surveys)
def test_figures_stay_in_range_and_add_up(
    plan_list: list[Plan],
    responses: list[SurveyResponse],
) -> None:
    incidents = [play(n, p) for n, p in enumerate(plan_list)]
    months = [monthly_figures(incidents, responses, CAL, y, m) for y, m in MONTHS]
    # The months partition the incidents and the responses.
    assert sum(f.incidents for f in months) == len(incidents)
    assert sum(f.unresolved for f in months) == sum(i.resolved_at is None for i in incidents)
    assert sum(f.first_contact_resolution.count for f in months) == sum(
        not i.flags & FCR_EXCLUDED for i in incidents
    )
    assert sum(f.first_contact_resolution.total for f in months) == sum(
        not i.flags & FCR_EXCLUDED and i.resolved_at is not None and i.escalated_at is None
        for i in incidents
    )
    assert sum(f.handling_seconds.count for f in months) == sum(
        i.resolved_at is not None and not i.flags & HANDLING_EXCLUDED for i in incidents
    )
    assert sum(f.escalation_seconds.count for f in months) == sum(
        i.escalated_at is not None for i in incidents
    )
    assert sum(f.progress_seconds.count for f in months) == sum(
        i.escalated_at is not None
        and i.first_progress_at is not None
        and not i.flags & PROGRESS_EXCLUDED
        for i in incidents
    )
    for f in months:
        fcr = f.first_contact_resolution
        assert fcr.value is None or 0.0 <= fcr.value <= 1.0
        assert (fcr.value is None) == (fcr.met is None) == (fcr.count == 0)
        assert f.progress_seconds.count <= f.escalation_seconds.count
        for name in ("handling_seconds", "escalation_seconds", "progress_seconds"):
            value = getattr(f, name).value
            assert value is None or value >= 0.0
        assert f.satisfaction.value is None or 0.0 <= f.satisfaction.value <= 100.0
    for inc in incidents:
        end = inc.resolved_at
        if end is not None:
            handled = handling_seconds(inc, CAL)
            assert handled is not None
            # Never negative, never more than the business time from clock start to end.
            assert 0.0 <= handled <= CAL.business_seconds(clock_start(inc, CAL), end)
        for measure in (escalation_seconds(inc, CAL), progress_seconds(inc, CAL)):
            assert measure is None or measure >= 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(plans, max_size=8), st.integers(0, 91 * 24 * 60))
def test_at_risk_only_lists_open_incidents_over_the_warning(
    plan_list: list[Plan], minutes: int
) -> None:
    incidents = {n: play(n, p) for n, p in enumerate(plan_list)}
    now = START + timedelta(minutes=minutes)
    risks = at_risk(incidents.values(), now, CAL)
    for r in risks:
        assert r.incident_id is not None
        assert incidents[r.incident_id].resolved_at is None
        assert r.elapsed_seconds >= 0.8 * r.target_seconds
        assert (r.state == "breached") == (r.elapsed_seconds > r.target_seconds)
    order = [(r.state != "breached", -r.urgency) for r in risks]
    assert order == sorted(order)


@settings(max_examples=100, deadline=None)
@given(plans)
def test_history_is_in_time_order_and_consistent(plan: Plan) -> None:
    inc, history = play_with_history(0, plan)
    stamps = [utc(e.at) for e in history]
    assert stamps == sorted(stamps)
    assert utc(inc.latest()[1]) <= stamps[-1]
    assert (inc.resolved_at is None) == inc.is_open
    assert (inc.closed_at is not None) == (inc.status == "closed")
    if inc.status in ("escalated", "escalation_answered"):
        assert inc.escalated_at is not None
        assert (inc.escalation_answered_at is not None) == (inc.status == "escalation_answered")
    if inc.escalation_answered_at is not None:
        assert inc.escalated_at is not None
        assert utc(inc.escalated_at) <= utc(inc.escalation_answered_at)
    if inc.first_progress_at is not None:
        assert inc.first_progress_at == inc.progress_reports[0].at
