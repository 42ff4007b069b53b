"""Incidents as JSON: one model per shape, for the API's answers (and its OpenAPI) and
the webhooks' payloads alike, so the two can never tell an incident differently.

Times are written as ``isoformat()`` (``+00:00``), as the history and the webhooks have
always shown them; sets as sorted lists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from callcenter.incidents.model import (
    Flag,
    HistoryEntry,
    Incident,
    Priority,
    ProgressReport,
    ReportHow,
    Resolution,
    Status,
    SurveyResponse,
)

Iso = Annotated[
    datetime,
    PlainSerializer(lambda at: at.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Json(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgressReportJson(_Json):
    model_config = ConfigDict(title="ProgressReport")

    at: Iso
    how: ReportHow
    by: str
    note: str

    @classmethod
    def of(cls, r: ProgressReport) -> ProgressReportJson:
        return cls(at=r.at, how=r.how, by=r.by, note=r.note)


class IncidentJson(_Json):
    """An incident as the API answers it and the webhooks send it."""

    model_config = ConfigDict(title="Incident")

    id: int
    status: Status
    call_linkedid: str | None
    server_id: str | None
    caller_number: str | None
    caller_name: str | None
    queue: str | None
    ivr_path: list[str]
    agent: str | None
    agent_id: str | None = Field(description="who may act on it (an agent: its own)")
    received_at: Iso
    answered_at: Iso | None
    category: str | None
    priority: Priority
    flags: list[Flag]
    escalated_at: Iso | None
    escalated_by: str | None
    escalated_to: str | None
    escalation_answered_at: Iso | None
    first_progress_at: Iso | None
    progress_reports: list[ProgressReportJson]
    resolved_at: Iso | None
    resolved_by: str | None
    resolution: Resolution | None
    closed_at: Iso | None
    related_incident_id: int | None
    notes: str
    updated_at: Iso | None

    @classmethod
    def of(cls, i: Incident) -> IncidentJson:
        if i.id is None:
            raise ValueError("an incident is shown once stored (it has no id yet)")
        return cls(
            id=i.id,
            status=i.status,
            call_linkedid=i.call_linkedid,
            server_id=i.server_id,
            caller_number=i.caller_number,
            caller_name=i.caller_name,
            queue=i.queue,
            ivr_path=list(i.ivr_path),
            agent=i.agent,
            agent_id=i.agent_id,
            received_at=i.received_at,
            answered_at=i.answered_at,
            category=i.category,
            priority=i.priority,
            flags=sorted(i.flags),
            escalated_at=i.escalated_at,
            escalated_by=i.escalated_by,
            escalated_to=i.escalated_to,
            escalation_answered_at=i.escalation_answered_at,
            first_progress_at=i.first_progress_at,
            progress_reports=[ProgressReportJson.of(r) for r in i.progress_reports],
            resolved_at=i.resolved_at,
            resolved_by=i.resolved_by,
            resolution=i.resolution,
            closed_at=i.closed_at,
            related_incident_id=i.related_incident_id,
            notes=i.notes,
            updated_at=i.updated_at,
        )


class HistoryEntryJson(_Json):
    model_config = ConfigDict(title="HistoryEntry")

    at: Iso
    actor: str
    action: str
    changes: dict[str, Annotated[list[Any], Field(min_length=2, max_length=2)]] = Field(
        description="each changed field as [old, new]"
    )
    note: str

    @classmethod
    def of(cls, h: HistoryEntry) -> HistoryEntryJson:
        return cls.model_validate(h.to_dict())


class SurveyJson(_Json):
    model_config = ConfigDict(title="Survey")

    respondent: str
    incident_id: int | None
    answers: list[Annotated[int, Field(ge=1, le=5)]]
    at: Iso

    @classmethod
    def of(cls, s: SurveyResponse) -> SurveyJson:
        return cls(
            respondent=s.respondent, incident_id=s.incident_id, answers=list(s.answers), at=s.at
        )


def report_dict(r: ProgressReport) -> dict[str, Any]:
    return ProgressReportJson.of(r).model_dump(mode="json")


def incident_dict(i: Incident) -> dict[str, Any]:
    """The webhooks' payload (and the live websocket's incident message)."""
    return IncidentJson.of(i).model_dump(mode="json")


def survey_dict(s: SurveyResponse) -> dict[str, Any]:
    return SurveyJson.of(s).model_dump(mode="json")
