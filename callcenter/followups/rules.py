"""Which finished call opens, adds to or closes a follow-up entry, and what a call-back's
end means. Pure: no database, no PBX.

An entry stands for one caller number not reached yet. It is opened by a call that
ended ``abandoned`` (not ``short_abandoned``: under the one-ring threshold nobody
expects a call back), ``after_hours``, ``voicemail`` or ``callback``; the same number's
next such calls add to it (one open entry per number). It is closed as ``reached``
when a call-back's caller leg answers or when the caller calls again and an agent
answers, and as ``wrong_number`` when an agent says so. A number that cannot be dialled
(anonymous, empty, letters) opens nothing: nobody could call it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callcenter.telephony.calls import CallRecord, Outcome


class Reason(StrEnum):
    """Why a caller is on the list: the outcome of their (latest) unanswered call."""

    ABANDONED = Outcome.ABANDONED.value
    AFTER_HOURS = Outcome.AFTER_HOURS.value
    VOICEMAIL = Outcome.VOICEMAIL.value
    CALLBACK = Outcome.CALLBACK.value


class Status(StrEnum):
    OPEN = "open"
    REACHED = "reached"
    WRONG_NUMBER = "wrong_number"


class Result(StrEnum):
    """A call-back's result, as recorded (the PBX's, or the agent's word)."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    CANCELLED = "cancelled"  # the agent hung up before the caller answered
    AGENT_MISSED = "agent_missed"  # the agent's own phone was not answered


class ClosedBy(StrEnum):
    CALLBACK = "callback"  # a call-back's caller leg answered
    CALL_AGAIN = "call_again"  # the caller called again and was answered
    AGENT = "agent"  # an agent set the result


# What an agent may set through the API.
AGENT_RESULTS = (Result.REACHED, Result.NO_ANSWER, Result.WRONG_NUMBER)

_NUMBER = re.compile(r"\+?[0-9]{2,30}")
_SEPARATORS = re.compile(r"[\s\-().]")


def dialable(number: str) -> str | None:
    """The caller's number as the desk dials it back (spaces, hyphens and brackets
    dropped), or None when it cannot be dialled."""
    cleaned = _SEPARATORS.sub("", number)
    return cleaned if _NUMBER.fullmatch(cleaned) else None


def opening_reason(call: CallRecord) -> Reason | None:
    """The reason this finished call puts its caller on the list, if it does."""
    if call.outcome is None or dialable(call.caller_num) is None:
        return None
    try:
        return Reason(call.outcome.value)
    except ValueError:
        return None


def reaches(call: CallRecord) -> bool:
    """An answered call from a dialable number: its caller is reached."""
    return (
        call.outcome is Outcome.ANSWERED
        and call.answered_at is not None
        and dialable(call.caller_num) is not None
    )


@dataclass(frozen=True)
class Entry:
    """One caller on the list (the store's row, as the rules see it)."""

    caller_num: str
    caller_name: str
    reason: Reason
    queue: str | None
    server_id: str
    first_linkedid: str
    opened_at: datetime
    last_call_at: datetime
    calls: int = 1
    status: Status = Status.OPEN
    attempts: int = 0
    last_result: Result | None = None
    last_attempt_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: ClosedBy | None = None
    closed_ref: str | None = None


def open_entry(call: CallRecord, reason: Reason, arrived: datetime) -> Entry:
    number = dialable(call.caller_num)
    assert number is not None
    return Entry(
        caller_num=number,
        caller_name=call.caller_name,
        reason=reason,
        queue=call.queue,
        server_id=call.server_id,
        first_linkedid=call.linkedid,
        opened_at=arrived,
        last_call_at=arrived,
    )


def add_call(entry: Entry, call: CallRecord, reason: Reason, arrived: datetime) -> Entry:
    """The same caller again, still not reached: the entry says so (earliest first call,
    latest call's reason, queue and name)."""
    later = arrived >= entry.last_call_at
    return replace(
        entry,
        calls=entry.calls + 1,
        opened_at=min(entry.opened_at, arrived),
        last_call_at=max(entry.last_call_at, arrived),
        reason=reason if later else entry.reason,
        queue=(call.queue or entry.queue) if later else entry.queue,
        caller_name=(call.caller_name or entry.caller_name) if later else entry.caller_name,
    )


def reached_by_call(entry: Entry, answered: datetime) -> bool:
    """An answered call reaches an open entry only if answered after the entry opened
    (an earlier answered call says nothing of a later missed one)."""
    return entry.status is Status.OPEN and answered > entry.opened_at


def close(entry: Entry, status: Status, at: datetime, by: ClosedBy, ref: str) -> Entry:
    return replace(entry, status=status, closed_at=at, closed_by=by, closed_ref=ref)


def dial_result(dial_status: str) -> Result:
    """What Dial's DIALSTATUS on the caller's leg means for the call-back."""
    if dial_status == "ANSWER":
        return Result.REACHED
    if dial_status == "CANCEL":
        return Result.CANCELLED
    return Result.NO_ANSWER  # NOANSWER BUSY CONGESTION CHANUNAVAIL, or nothing at all


def entry_after(entry: Entry, result: Result, at: datetime, by: ClosedBy, ref: str) -> Entry:
    """The entry once a call-back (or an agent) gave ``result``: reached and wrong number
    close it; no answer, cancelled and a missed agent leave it open for another try."""
    entry = replace(entry, last_result=result, last_attempt_at=at)
    if entry.status is not Status.OPEN:
        return entry
    if result is Result.REACHED:
        return close(entry, Status.REACHED, at, by, ref)
    if result is Result.WRONG_NUMBER:
        return close(entry, Status.WRONG_NUMBER, at, by, ref)
    return entry
