"""What the call tracker tells its owner, in the order it happened: the daemon routes
each fact (an incident to open, a record to store, a survey answer to keep), and the
tracker knows nothing of who listens."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.telephony.calls import CallRecord


@dataclass(frozen=True)
class CallAnswered:
    """An agent has the call (a queue's AgentConnect, a group member, or a resync)."""

    call: CallRecord


@dataclass(frozen=True)
class CallFinished:
    """The caller's channel hung up (or a resync found it gone): the record is final."""

    call: CallRecord


@dataclass(frozen=True)
class SurveyAnswered:
    """The caller rated the call after the agent hung up (1 不満 .. 5 満足)."""

    server_id: str
    linkedid: str
    respondent: str  # the caller's number, else "call:<linkedid>"
    answer: int
    at: float


Fact = CallAnswered | CallFinished | SurveyAnswered
