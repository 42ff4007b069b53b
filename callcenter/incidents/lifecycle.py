"""What can be done to an incident: pure functions from one state to the next.

Each takes the incident, the actor (who does it), ``at`` (when it happened, aware) and
its arguments, and returns the new incident with the history entry that explains it; a
refused change raises ``IncidentError`` naming the field. Rules (docs/incidents.md):

    received -> in_progress -> escalated -> escalation_answered -> resolved -> closed
    received or in_progress -> escalated (at most once per incident)
    received, in_progress, escalated or escalation_answered -> resolved
    resolved -> in_progress (reopen)

Progress reports can be added until the incident is closed; category, priority, flags,
notes and the related incident can be changed at any time (the history keeps the old
value). History is in time order: an action's ``at`` is never before the latest time
already recorded on the incident (its previous action's included, ``updated_at``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal, TypeVar

from callcenter.incidents.model import (
    FLAGS,
    OPEN_STATUSES,
    PRIORITIES,
    REPORT_HOWS,
    RESOLUTIONS,
    Flag,
    HistoryEntry,
    Incident,
    IncidentError,
    ProgressReport,
    Status,
    is_aware,
    utc,
)

_C = TypeVar("_C", bound=str)


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP  # update(): leave this field as it is

_ARTICLE: dict[Status, str] = {
    "received": "a received",
    "in_progress": "an in-progress",
    "escalated": "an escalated",
    "escalation_answered": "an escalation-answered",
    "resolved": "a resolved",
    "closed": "a closed",
}


# -- checks --------------------------------------------------------------------------


def _choice(name: str, value: str, choices: tuple[_C, ...]) -> _C:
    for choice in choices:
        if value == choice:
            return choice
    raise IncidentError(name, f"{value!r} is not one of: {', '.join(choices)}")


def _flags(values: Iterable[str]) -> frozenset[Flag]:
    if isinstance(values, str):  # a lone string would be read letter by letter
        raise IncidentError("flags", "a collection of flag names is needed, not one string")
    return frozenset(_choice("flags", v, FLAGS) for v in values)


def _name(name: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise IncidentError(name, "must not be empty")
    return value


def _aware(name: str, at: datetime) -> datetime:
    if not is_aware(at):
        raise IncidentError(name, f"an aware datetime is needed (got naive {at.isoformat()})")
    return at


def _check_at(incident: Incident, at: datetime) -> None:
    _aware("at", at)
    if utc(at) < utc(incident.received_at):
        raise IncidentError(
            "at",
            f"{at.isoformat()} is before the incident was received "
            f"({incident.received_at.isoformat()})",
        )
    field, latest = incident.latest()
    if utc(at) < utc(latest):
        raise IncidentError(
            "at",
            f"{at.isoformat()} is before {field} ({latest.isoformat()}): "
            "an incident's times cannot go backwards",
        )


def _require(incident: Incident, allowed: Iterable[Status], verb: str, hint: str = "") -> None:
    if incident.status not in allowed:
        raise IncidentError("status", f"cannot {verb} {_ARTICLE[incident.status]} incident{hint}")


def _apply(
    incident: Incident, actor: str, at: datetime, action: str, note: str, **new: Any
) -> tuple[Incident, HistoryEntry]:
    actor = _name("actor", actor)
    _check_at(incident, at)
    changes = {k: (getattr(incident, k), v) for k, v in new.items() if getattr(incident, k) != v}
    # updated_at is bookkeeping, not a change anyone made: it stays out of ``changes``.
    return replace(incident, **new, updated_at=at), HistoryEntry(at, actor, action, changes, note)


# -- creation ------------------------------------------------------------------------


def open_incident(
    actor: str,
    at: datetime,
    *,
    received_at: datetime | None = None,
    answered_at: datetime | None = None,
    id: int | None = None,
    call_linkedid: str | None = None,
    server_id: str | None = None,
    caller_number: str | None = None,
    caller_name: str | None = None,
    queue: str | None = None,
    ivr_path: Iterable[str] = (),
    agent: str | None = None,
    agent_id: str | None = None,
    category: str | None = None,
    priority: str = "normal",
    flags: Iterable[str] = (),
    related_incident_id: int | None = None,
    notes: str = "",
) -> tuple[Incident, HistoryEntry]:
    """A new incident, status received; ``received_at``: the call's arrival (default ``at``)."""
    actor = _name("actor", actor)
    _aware("at", at)
    received = _aware("received_at", received_at if received_at is not None else at)
    if utc(at) < utc(received):
        raise IncidentError(
            "received_at", f"{received.isoformat()} is after the incident was opened"
        )
    if answered_at is not None:
        _aware("answered_at", answered_at)
        if not utc(received) <= utc(answered_at) <= utc(at):
            raise IncidentError(
                "answered_at", "must be between received_at and the incident's opening"
            )
    if category is not None:
        _name("category", category)
    incident = Incident(
        id=id,
        call_linkedid=call_linkedid,
        server_id=server_id,
        caller_number=caller_number,
        caller_name=caller_name,
        queue=queue,
        ivr_path=tuple(ivr_path),
        agent=agent,
        agent_id=agent_id,
        received_at=received,
        answered_at=answered_at,
        category=category,
        priority=_choice("priority", priority, PRIORITIES),
        flags=_flags(flags),
        related_incident_id=_related(id, related_incident_id),
        notes=notes,
        updated_at=at,
    )
    blank = Incident(received_at=received)
    changes = {
        name: (None, getattr(incident, name))
        for name in _CREATED_FIELDS
        if name in ("received_at", "status") or getattr(incident, name) != getattr(blank, name)
    }
    return incident, HistoryEntry(at, actor, "created", changes)


# What a new incident's "created" entry shows: these fields, when not left at their default.
_CREATED_FIELDS = (
    *("id", "call_linkedid", "server_id", "caller_number", "caller_name", "queue"),
    *("ivr_path", "agent", "agent_id", "received_at", "answered_at", "status", "category"),
    *("priority", "flags", "related_incident_id", "notes"),
)


def _related(own: int | None, related: int | None) -> int | None:
    if related is not None and own is not None and related == own:
        raise IncidentError("related_incident_id", "an incident cannot be related to itself")
    return related


# -- transitions ---------------------------------------------------------------------


def start(
    incident: Incident, actor: str, at: datetime, note: str = ""
) -> tuple[Incident, HistoryEntry]:
    """The desk starts working on it (received -> in_progress)."""
    _require(incident, ("received",), "start")
    return _apply(incident, actor, at, "started", note, status="in_progress")


def escalate(
    incident: Incident,
    actor: str,
    at: datetime,
    to: str,
    by: str | None = None,
    note: str = "",
) -> tuple[Incident, HistoryEntry]:
    """Handed to the second line ``to``; ``by``: who asked (default the actor)."""
    _require(incident, ("received", "in_progress"), "escalate")
    if incident.escalated_at is not None:
        # A reopened incident: the figures measure one escalation and one hold per
        # incident; a new problem for the vendor is a new (related) incident.
        raise IncidentError("status", f"already escalated at {incident.escalated_at.isoformat()}")
    return _apply(
        incident,
        actor,
        at,
        "escalated",
        note,
        status="escalated",
        escalated_at=at,
        escalated_by=_name("escalated_by", by if by is not None else actor),
        escalated_to=_name("escalated_to", to),
    )


def answer_escalation(
    incident: Incident, actor: str, at: datetime, note: str = ""
) -> tuple[Incident, HistoryEntry]:
    """The second line's answer came back: the escalation hold ends here."""
    _require(incident, ("escalated",), "record an escalation answer for")
    return _apply(
        incident,
        actor,
        at,
        "escalation_answered",
        note,
        status="escalation_answered",
        escalation_answered_at=at,
    )


def report_progress(
    incident: Incident,
    actor: str,
    at: datetime,
    how: str,
    note: str = "",
    by: str | None = None,
) -> tuple[Incident, HistoryEntry]:
    """The caller was told how it is going; the status does not change."""
    _require(incident, (*OPEN_STATUSES, "resolved"), "report progress on")
    report = ProgressReport(
        at, _choice("how", how, REPORT_HOWS), _name("by", by if by is not None else actor), note
    )
    return _apply(
        incident,
        actor,
        at,
        "progress_reported",
        note,
        progress_reports=(*incident.progress_reports, report),
        first_progress_at=incident.first_progress_at or at,
    )


def resolve(
    incident: Incident,
    actor: str,
    at: datetime,
    resolution: str | None = None,
    note: str = "",
) -> tuple[Incident, HistoryEntry]:
    """Solved. Default resolution: second_line if it was escalated, else first_line.

    Resolving while still escalated means the answer came with the resolution, so
    ``escalation_answered_at`` becomes ``at`` (the hold ends there).
    """
    _require(incident, ("received", "in_progress", "escalated", "escalation_answered"), "resolve")
    if resolution is None:
        chosen = "second_line" if incident.was_escalated else "first_line"
    else:
        chosen = _choice("resolution", resolution, RESOLUTIONS)
    if chosen == "second_line" and not incident.was_escalated:
        raise IncidentError("resolution", "second_line needs an escalation first")
    answered = incident.escalation_answered_at
    if incident.was_escalated and answered is None:
        answered = at
    return _apply(
        incident,
        actor,
        at,
        "resolved",
        note,
        status="resolved",
        escalation_answered_at=answered,
        resolved_at=at,
        resolved_by=actor,
        resolution=chosen,
    )


def close(
    incident: Incident, actor: str, at: datetime, note: str = ""
) -> tuple[Incident, HistoryEntry]:
    """Done with: the caller confirmed, or the follow-up period ended. Final."""
    _require(incident, ("resolved",), "close", ": resolve it first")
    return _apply(incident, actor, at, "closed", note, status="closed", closed_at=at)


def reopen(
    incident: Incident, actor: str, at: datetime, note: str = ""
) -> tuple[Incident, HistoryEntry]:
    """The resolution did not hold: back to in_progress, its clock running again."""
    _require(incident, ("resolved",), "reopen", " (only resolved ones can be reopened)")
    return _apply(
        incident,
        actor,
        at,
        "reopened",
        note,
        status="in_progress",
        resolved_at=None,
        resolved_by=None,
        resolution=None,
    )


def update(
    incident: Incident,
    actor: str,
    at: datetime,
    *,
    category: str | Literal[_Keep.KEEP] | None = KEEP,
    priority: str | Literal[_Keep.KEEP] = KEEP,
    flags: Iterable[str] | Literal[_Keep.KEEP] = KEEP,
    notes: str | Literal[_Keep.KEEP] = KEEP,
    related_incident_id: int | Literal[_Keep.KEEP] | None = KEEP,
    note: str = "",
) -> tuple[Incident, HistoryEntry]:
    """Change details; fields left as ``KEEP`` stay. Nothing changed: empty ``changes``."""
    new: dict[str, Any] = {}
    if category is not KEEP:
        new["category"] = category if category is None else _name("category", category)
    if priority is not KEEP:
        new["priority"] = _choice("priority", priority, PRIORITIES)
    if flags is not KEEP:
        new["flags"] = _flags(flags)
    if notes is not KEEP:
        new["notes"] = notes
    if related_incident_id is not KEEP:
        new["related_incident_id"] = _related(incident.id, related_incident_id)
    return _apply(incident, actor, at, "updated", note, **new)
