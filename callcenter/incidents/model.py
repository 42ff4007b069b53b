"""Incidents (tickets), their history entries and survey answers: plain frozen values.

Definitions: docs/incidents.md. Every time is an aware datetime; a change is a new value
made by ``callcenter.incidents.lifecycle``, never an edit in place, so an incident and the
history entry that explains it are always made together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Status = Literal[
    "received", "in_progress", "escalated", "escalation_answered", "resolved", "closed"
]
Priority = Literal["low", "normal", "high", "urgent"]
Flag = Literal["technical_investigation", "vendor_investigation", "caller_set_contact_time"]
ReportHow = Literal["phone", "email", "other"]
Resolution = Literal["first_line", "second_line"]

STATUSES: tuple[Status, ...] = get_args(Status)
PRIORITIES: tuple[Priority, ...] = get_args(Priority)
FLAGS: tuple[Flag, ...] = get_args(Flag)
REPORT_HOWS: tuple[ReportHow, ...] = get_args(ReportHow)
RESOLUTIONS: tuple[Resolution, ...] = get_args(Resolution)
OPEN_STATUSES: frozenset[Status] = frozenset(
    {"received", "in_progress", "escalated", "escalation_answered"}
)

# Survey answer -> score out of 100 (SPEC 3.5). 不満 is 0, not 20: the contract's scale.
SATISFACTION_SCORES: dict[int, float] = {5: 100.0, 4: 80.0, 3: 60.0, 2: 40.0, 1: 0.0}


class IncidentError(ValueError):
    """A refused change or value; ``field`` names what is wrong (e.g. "status", "at")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def is_aware(at: datetime) -> bool:
    return at.tzinfo is not None and at.utcoffset() is not None


def utc(at: datetime) -> datetime:
    # Order through UTC: within one zone Python compares wall times (wrong across DST).
    return at.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ProgressReport:
    """A report to the caller on how the incident is going (経過報告)."""

    at: datetime
    how: ReportHow
    by: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Incident:
    id: int | None = None  # None until stored
    # The call that opened it (None: opened by hand, e.g. from an e-mail).
    call_linkedid: str | None = None
    server_id: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    queue: str | None = None
    ivr_path: tuple[str, ...] = ()
    agent: str | None = None
    agent_id: str | None = None  # the agent's id (endpoint): who may act on it
    received_at: datetime  # the call's arrival: the SLA clocks start here (business time)
    answered_at: datetime | None = None
    status: Status = "received"
    category: str | None = None
    priority: Priority = "normal"
    flags: frozenset[Flag] = frozenset()
    escalated_at: datetime | None = None
    escalated_by: str | None = None
    escalated_to: str | None = None
    escalation_answered_at: datetime | None = None
    first_progress_at: datetime | None = None
    progress_reports: tuple[ProgressReport, ...] = ()
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: Resolution | None = None
    closed_at: datetime | None = None
    related_incident_id: int | None = None  # an earlier incident of the same caller
    notes: str = ""
    # The time of the latest action (history entry), so history stays in time order even
    # after actions that record no time of their own (updates).
    updated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not yet resolved: its handling clock is still running."""
        return self.status in OPEN_STATUSES

    @property
    def was_escalated(self) -> bool:
        return self.escalated_at is not None

    def times(self) -> dict[str, datetime]:
        """Every time recorded on the incident, by field (progress reports as one, the last)."""
        named: dict[str, datetime | None] = {
            "received_at": self.received_at,
            "answered_at": self.answered_at,
            "escalated_at": self.escalated_at,
            "escalation_answered_at": self.escalation_answered_at,
            "progress_reports": max((r.at for r in self.progress_reports), key=utc, default=None),
            "resolved_at": self.resolved_at,
            "closed_at": self.closed_at,
            "updated_at": self.updated_at,
        }
        return {k: v for k, v in named.items() if v is not None}

    def latest(self) -> tuple[str, datetime]:
        """The latest time recorded on the incident, and its field."""
        return max(self.times().items(), key=lambda kv: utc(kv[1]))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One action on an incident: who, when, and each changed field as (old, new)."""

    at: datetime
    actor: str
    action: str  # created, started, escalated, escalation_answered, progress_reported, ...
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    note: str = ""  # what the actor wrote with the action (e.g. how it was resolved)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times in ISO 8601, sets as sorted lists, changes as [old, new]."""
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "changes": {k: [_plain(old), _plain(new)] for k, (old, new) in self.changes.items()},
            "note": self.note,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, ProgressReport):
        return {"at": value.at.isoformat(), "how": value.how, "by": value.by, "note": value.note}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    """One filled-in satisfaction survey; ``answers`` are 1 (不満) .. 5 (満足)."""

    respondent: str
    incident_id: int | None
    answers: tuple[int, ...]
    at: datetime

    def __post_init__(self) -> None:
        if not self.respondent:
            raise IncidentError("respondent", "a respondent is needed")
        bad = [a for a in self.answers if type(a) is not int or a not in SATISFACTION_SCORES]
        if bad:
            raise IncidentError("answers", f"answers are 1 to 5, got {bad}")
        if not is_aware(self.at):
            raise IncidentError("at", f"an aware datetime is needed (got {self.at.isoformat()})")
