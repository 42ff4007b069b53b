"""Which finished call puts its caller on the list, and what closes the entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.followups.rules import (
    ClosedBy,
    Reason,
    Result,
    Status,
    add_call,
    dial_result,
    dialable,
    entry_after,
    open_entry,
    opening_reason,
    reached_by_call,
    reaches,
)
from callcenter.telephony.calls import Outcome
from tests.unit.followups.calls import call

AT = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome.ABANDONED, Reason.ABANDONED),
        (Outcome.AFTER_HOURS, Reason.AFTER_HOURS),
        (Outcome.VOICEMAIL, Reason.VOICEMAIL),
        (Outcome.CALLBACK, Reason.CALLBACK),
        (Outcome.SHORT_ABANDONED, None),  # under the one-ring threshold
        (Outcome.ANSWERED, None),
        (Outcome.TRANSFERRED_OUT, None),
        (Outcome.FAILED, None),
        (Outcome.UNKNOWN, None),
    ],
)
def test_the_outcomes_that_open_an_entry(outcome: Outcome, reason: Reason | None) -> None:
    assert opening_reason(call("1", "0300000001", outcome)) is reason


@pytest.mark.parametrize(
    ("number", "dialled"),
    [
        ("0300000001", "0300000001"),
        ("03-0000-0001", "0300000001"),
        ("+81 3 0000 0001", "+81300000001"),
        ("(03) 0000-0001", "0300000001"),
        ("", None),
        ("anonymous", None),
        ("<unknown>", None),
        ("1", None),
        ("03#1", None),
    ],
)
def test_only_a_dialable_number_can_be_called_back(number: str, dialled: str | None) -> None:
    assert dialable(number) == dialled
    if dialled is None:
        assert opening_reason(call("1", number, Outcome.ABANDONED)) is None
        assert not reaches(call("1", number, Outcome.ANSWERED, answered_after=5))


def test_an_answered_call_reaches_an_entry_opened_before_its_answer() -> None:
    answered = call("2", "0300000001", Outcome.ANSWERED, answered_after=5)
    assert reaches(answered)
    entry = open_entry(call("1", "0300000001", Outcome.ABANDONED), Reason.ABANDONED, AT)
    assert reached_by_call(entry, AT + timedelta(seconds=1))
    assert not reached_by_call(entry, AT - timedelta(seconds=1))


def test_repeated_calls_keep_the_first_call_and_take_the_latest_reason() -> None:
    first = call("1", "03-0000-0001", Outcome.ABANDONED, name="山田")
    entry = open_entry(first, Reason.ABANDONED, AT)
    assert (entry.caller_num, entry.calls, entry.status) == ("0300000001", 1, Status.OPEN)
    later = AT + timedelta(hours=1)
    again = call("2", "0300000001", Outcome.VOICEMAIL, queue="vmq", name="山田 太郎")
    entry = add_call(entry, again, Reason.VOICEMAIL, later)
    assert (entry.calls, entry.opened_at, entry.last_call_at) == (2, AT, later)
    assert (entry.reason, entry.queue, entry.caller_name) == (Reason.VOICEMAIL, "vmq", "山田 太郎")
    # A call that finished late but arrived earlier moves the start, not the reason.
    earlier = AT - timedelta(minutes=5)
    entry = add_call(
        entry, call("0", "0300000001", Outcome.AFTER_HOURS), Reason.AFTER_HOURS, earlier
    )
    assert (entry.calls, entry.opened_at, entry.reason) == (3, earlier, Reason.VOICEMAIL)


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("ANSWER", Result.REACHED),
        ("NOANSWER", Result.NO_ANSWER),
        ("BUSY", Result.NO_ANSWER),
        ("CHANUNAVAIL", Result.NO_ANSWER),
        ("CONGESTION", Result.NO_ANSWER),
        ("", Result.NO_ANSWER),
        ("CANCEL", Result.CANCELLED),
    ],
)
def test_what_dials_status_means(status: str, result: Result) -> None:
    assert dial_result(status) is result


def test_reached_and_wrong_number_close_the_rest_leave_it_open() -> None:
    entry = open_entry(call("1", "0300000001", Outcome.ABANDONED), Reason.ABANDONED, AT)
    later = AT + timedelta(minutes=3)
    for result in (Result.NO_ANSWER, Result.CANCELLED, Result.AGENT_MISSED):
        after = entry_after(entry, result, later, ClosedBy.CALLBACK, "attempt:1")
        assert (after.status, after.last_result, after.closed_at) == (Status.OPEN, result, None)
    reached = entry_after(entry, Result.REACHED, later, ClosedBy.CALLBACK, "attempt:1")
    assert (reached.status, reached.closed_at, reached.closed_by) == (
        Status.REACHED,
        later,
        ClosedBy.CALLBACK,
    )
    wrong = entry_after(entry, Result.WRONG_NUMBER, later, ClosedBy.AGENT, "attempt:2")
    assert wrong.status is Status.WRONG_NUMBER
    # A closed entry stays closed whatever comes after.
    assert entry_after(reached, Result.NO_ANSWER, later, ClosedBy.CALLBACK, "x").status is (
        Status.REACHED
    )
