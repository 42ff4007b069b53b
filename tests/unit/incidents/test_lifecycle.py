"""The incident lifecycle: allowed transitions, refused ones, and the history they leave."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.incidents import lifecycle as lc
from callcenter.incidents.model import (
    HistoryEntry,
    Incident,
    IncidentError,
    ProgressReport,
    SurveyResponse,
)

TZ = ZoneInfo("Asia/Tokyo")


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


Action = Callable[[Incident, datetime], tuple[Incident, HistoryEntry]]
T0 = jst(2026, 11, 18, 10, 0)  # a Wednesday, open


def opened() -> Incident:
    incident, _ = lc.open_incident(
        "agent1",
        jst(2026, 11, 18, 10, 2),
        received_at=T0,
        answered_at=jst(2026, 11, 18, 10, 1),
        id=7,
        call_linkedid="1763427600.12",
        server_id="pbx1",
        caller_number="0312345678",
        queue="support",
        ivr_path=("1", "2"),
        agent="agent1",
    )
    return incident


def resolved() -> Incident:
    inc, _ = lc.resolve(opened(), "agent1", jst(2026, 11, 18, 10, 20))
    return inc


def closed() -> Incident:
    inc, _ = lc.close(resolved(), "agent1", jst(2026, 11, 18, 11, 0))
    return inc


def escalated() -> Incident:
    inc, _ = lc.escalate(opened(), "agent1", jst(2026, 11, 18, 10, 5), to="vendor")
    return inc


def test_open_records_the_call_and_a_created_entry() -> None:
    inc, entry = lc.open_incident(
        "agent1",
        jst(2026, 11, 18, 10, 2),
        received_at=T0,
        caller_number="0312345678",
        priority="high",
        flags=["caller_set_contact_time"],
    )
    assert inc.status == "received"
    assert inc.received_at == T0
    assert inc.flags == frozenset({"caller_set_contact_time"})
    assert entry.action == "created"
    assert entry.actor == "agent1"
    assert entry.at == jst(2026, 11, 18, 10, 2)
    # Only what was given (and the status and arrival, always) is in the entry.
    assert entry.changes == {
        "received_at": (None, T0),
        "status": (None, "received"),
        "caller_number": (None, "0312345678"),
        "priority": (None, "high"),
        "flags": (None, frozenset({"caller_set_contact_time"})),
    }


def test_received_at_defaults_to_the_opening() -> None:
    inc, _ = lc.open_incident("agent1", T0)
    assert inc.received_at == T0


def test_the_whole_escalated_path() -> None:
    inc = opened()
    inc, e1 = lc.start(inc, "agent1", jst(2026, 11, 18, 10, 3))
    inc, e2 = lc.escalate(inc, "agent1", jst(2026, 11, 18, 10, 5), to="vendor", by="lead")
    inc, e3 = lc.report_progress(inc, "agent2", jst(2026, 11, 18, 10, 30), "phone", "waiting")
    inc, e4 = lc.answer_escalation(inc, "agent1", jst(2026, 11, 18, 11, 0))
    inc, e5 = lc.report_progress(inc, "agent1", jst(2026, 11, 18, 11, 10), "email")
    inc, e6 = lc.resolve(inc, "agent1", jst(2026, 11, 18, 11, 30), note="patched")
    inc, e7 = lc.close(inc, "lead", jst(2026, 11, 19, 9, 0))
    actions = [e.action for e in (e1, e2, e3, e4, e5, e6, e7)]
    assert actions == [
        *("started", "escalated", "progress_reported", "escalation_answered"),
        *("progress_reported", "resolved", "closed"),
    ]
    assert inc.status == "closed"
    assert (inc.escalated_at, inc.escalated_by, inc.escalated_to) == (
        jst(2026, 11, 18, 10, 5),
        "lead",
        "vendor",
    )
    assert inc.escalation_answered_at == jst(2026, 11, 18, 11, 0)
    assert inc.first_progress_at == jst(2026, 11, 18, 10, 30)  # the first, not the last
    assert inc.progress_reports == (
        ProgressReport(jst(2026, 11, 18, 10, 30), "phone", "agent2", "waiting"),
        ProgressReport(jst(2026, 11, 18, 11, 10), "email", "agent1", ""),
    )
    assert (inc.resolution, inc.resolved_by) == ("second_line", "agent1")
    assert e6.note == "patched"
    assert e6.changes["status"] == ("escalation_answered", "resolved")
    assert inc.closed_at == jst(2026, 11, 19, 9, 0)


def test_resolving_unescalated_is_first_line() -> None:
    inc = resolved()
    assert inc.resolution == "first_line"
    assert inc.escalation_answered_at is None


def test_resolving_while_escalated_ends_the_hold_at_the_resolution() -> None:
    inc, entry = lc.resolve(escalated(), "agent1", jst(2026, 11, 18, 10, 40))
    assert inc.resolution == "second_line"
    assert inc.escalation_answered_at == jst(2026, 11, 18, 10, 40)
    assert entry.changes["escalation_answered_at"] == (None, jst(2026, 11, 18, 10, 40))


def test_first_line_may_resolve_an_escalated_incident() -> None:
    inc, _ = lc.resolve(escalated(), "agent1", jst(2026, 11, 18, 10, 40), "first_line")
    assert inc.resolution == "first_line"
    assert inc.was_escalated  # still not a first-contact resolution for the figures


def test_reopen_clears_the_resolution() -> None:
    inc, entry = lc.reopen(resolved(), "agent1", jst(2026, 11, 18, 12, 0))
    assert inc.status == "in_progress"
    assert (inc.resolved_at, inc.resolved_by, inc.resolution) == (None, None, None)
    assert entry.changes["resolution"] == ("first_line", None)


@pytest.mark.parametrize(
    ("make", "action", "message"),
    [
        (closed, lambda i, at: lc.escalate(i, "a", at, "vendor"), "cannot escalate a closed"),
        (resolved, lambda i, at: lc.start(i, "a", at), "cannot start a resolved"),
        (escalated, lambda i, at: lc.start(i, "a", at), "cannot start an escalated"),
        (opened, lambda i, at: lc.answer_escalation(i, "a", at), "cannot record an escalation"),
        (opened, lambda i, at: lc.close(i, "a", at), "cannot close a received incident: resolve"),
        (opened, lambda i, at: lc.reopen(i, "a", at), "cannot reopen a received"),
        (closed, lambda i, at: lc.reopen(i, "a", at), "cannot reopen a closed"),
        (closed, lambda i, at: lc.resolve(i, "a", at), "cannot resolve a closed"),
        (closed, lambda i, at: lc.report_progress(i, "a", at, "phone"), "report progress on a"),
        (escalated, lambda i, at: lc.escalate(i, "a", at, "v"), "cannot escalate an escalated"),
    ],
)
def test_refused_transitions_name_the_status(
    make: Callable[[], Incident], action: Action, message: str
) -> None:
    with pytest.raises(IncidentError, match=message) as err:
        action(make(), jst(2026, 11, 20, 9, 0))
    assert err.value.field == "status"
    assert isinstance(err.value, ValueError)


def test_a_reopened_incident_is_not_escalated_twice() -> None:
    inc, _ = lc.resolve(escalated(), "agent1", jst(2026, 11, 18, 10, 40))
    inc, _ = lc.reopen(inc, "agent1", jst(2026, 11, 18, 11, 0))
    with pytest.raises(IncidentError, match="already escalated") as err:
        lc.escalate(inc, "agent1", jst(2026, 11, 18, 11, 5), "vendor")
    assert err.value.field == "status"


def test_escalation_before_the_call_arrived_is_refused() -> None:
    with pytest.raises(IncidentError, match="before the incident was received") as err:
        lc.escalate(opened(), "agent1", jst(2026, 11, 18, 9, 59), "vendor")
    assert err.value.field == "at"


def test_times_never_go_backwards() -> None:
    # Escalated 10:05; an answer at 10:04 would make the hold negative.
    with pytest.raises(IncidentError, match="before escalated_at") as err:
        lc.answer_escalation(escalated(), "agent1", jst(2026, 11, 18, 10, 4))
    assert err.value.field == "at"
    with pytest.raises(IncidentError, match="before resolved_at"):
        lc.close(resolved(), "agent1", jst(2026, 11, 18, 10, 19))


def test_an_action_after_an_update_cannot_be_dated_before_it() -> None:
    inc, _ = lc.update(opened(), "lead", jst(2026, 11, 18, 10, 30), priority="high")
    with pytest.raises(IncidentError, match="before updated_at") as err:
        lc.start(inc, "agent1", jst(2026, 11, 18, 10, 20))
    assert err.value.field == "at"


def test_naive_times_are_refused() -> None:
    with pytest.raises(IncidentError, match="aware") as err:
        lc.start(opened(), "agent1", datetime(2026, 11, 18, 10, 30))
    assert err.value.field == "at"
    with pytest.raises(IncidentError) as err:
        lc.open_incident("agent1", T0, received_at=datetime(2026, 11, 18, 9))
    assert err.value.field == "received_at"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"received_at": jst(2026, 11, 18, 11, 0)}, "received_at"),  # after the opening
        ({"received_at": T0, "answered_at": jst(2026, 11, 18, 9, 0)}, "answered_at"),
        ({"received_at": T0, "answered_at": jst(2026, 11, 18, 10, 30)}, "answered_at"),
        ({"priority": "critical"}, "priority"),
        ({"flags": ["virus"]}, "flags"),
        ({"flags": "technical_investigation"}, "flags"),  # one string, not a collection
        ({"category": "  "}, "category"),
        ({"id": 3, "related_incident_id": 3}, "related_incident_id"),
    ],
)
def test_bad_values_on_opening_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(IncidentError) as err:
        lc.open_incident("agent1", jst(2026, 11, 18, 10, 10), **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_bad_values_on_actions_name_the_field() -> None:
    at = jst(2026, 11, 18, 10, 30)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("actor", lambda: lc.start(opened(), "", at)),
        ("escalated_to", lambda: lc.escalate(opened(), "agent1", at, to=" ")),
        ("how", lambda: lc.report_progress(opened(), "agent1", at, "fax")),
        ("by", lambda: lc.report_progress(opened(), "agent1", at, "phone", by="")),
        ("resolution", lambda: lc.resolve(opened(), "agent1", at, "second_line")),
        ("resolution", lambda: lc.resolve(opened(), "agent1", at, "vendor")),
        ("priority", lambda: lc.update(opened(), "agent1", at, priority="asap")),
        ("flags", lambda: lc.update(opened(), "agent1", at, flags={"virus"})),
    ]
    for field, action in cases:
        with pytest.raises(IncidentError) as err:
            action()
        assert err.value.field == field, field
        assert str(err.value).startswith(f"{field}: ")


def test_update_records_old_and_new_and_keeps_the_rest() -> None:
    inc, entry = lc.update(
        opened(),
        "lead",
        jst(2026, 11, 18, 10, 30),
        category="password",
        flags={"technical_investigation"},
        note="virus suspected",
    )
    assert inc.category == "password"
    assert inc.priority == "normal"  # kept
    assert entry.changes == {
        "category": (None, "password"),
        "flags": (frozenset(), frozenset({"technical_investigation"})),
    }
    assert entry.note == "virus suspected"


def test_update_that_changes_nothing_leaves_changes_empty() -> None:
    inc = opened()
    new, entry = lc.update(inc, "lead", jst(2026, 11, 18, 10, 30), priority="normal")
    assert new == replace(inc, updated_at=jst(2026, 11, 18, 10, 30))
    assert entry.changes == {}


def test_a_closed_incident_can_still_be_reclassified() -> None:
    inc, entry = lc.update(
        closed(), "lead", jst(2026, 11, 30, 9, 0), flags=["vendor_investigation"]
    )
    assert inc.flags == {"vendor_investigation"}
    assert entry.actor == "lead"  # the history says who changed a closed incident's figures


def test_history_entries_are_json_ready() -> None:
    inc, _ = lc.report_progress(escalated(), "agent1", jst(2026, 11, 18, 10, 30), "phone", "ok")
    _, entry = lc.update(inc, "lead", jst(2026, 11, 18, 10, 31), flags=["vendor_investigation"])
    _, created = lc.open_incident("agent1", T0, ivr_path=("1", "3"))
    assert json.loads(json.dumps(entry.to_dict()))["changes"] == {
        "flags": [[], ["vendor_investigation"]]
    }
    assert created.to_dict()["changes"]["ivr_path"] == [None, ["1", "3"]]
    assert created.to_dict()["changes"]["received_at"] == [None, "2026-11-18T10:00:00+09:00"]


def test_survey_answers_are_checked() -> None:
    with pytest.raises(IncidentError) as err:
        SurveyResponse("r1", None, (5, 6), T0)
    assert err.value.field == "answers"
    with pytest.raises(IncidentError) as err:
        SurveyResponse("r1", None, (True,), T0)  # a bool is not an answer
    assert err.value.field == "answers"
    with pytest.raises(IncidentError) as err:
        SurveyResponse("", None, (5,), T0)
    assert err.value.field == "respondent"
