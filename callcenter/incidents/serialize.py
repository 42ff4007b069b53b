"""Incidents as JSON-ready dicts (the API's bodies and the webhooks' payloads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.incidents.model import Incident, ProgressReport, SurveyResponse


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def report_dict(r: ProgressReport) -> dict[str, Any]:
    return {"at": r.at.isoformat(), "how": r.how, "by": r.by, "note": r.note}


def incident_dict(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "status": i.status,
        "call_linkedid": i.call_linkedid,
        "server_id": i.server_id,
        "caller_number": i.caller_number,
        "caller_name": i.caller_name,
        "queue": i.queue,
        "ivr_path": list(i.ivr_path),
        "agent": i.agent,
        "agent_id": i.agent_id,
        "received_at": i.received_at.isoformat(),
        "answered_at": _iso(i.answered_at),
        "category": i.category,
        "priority": i.priority,
        "flags": sorted(i.flags),
        "escalated_at": _iso(i.escalated_at),
        "escalated_by": i.escalated_by,
        "escalated_to": i.escalated_to,
        "escalation_answered_at": _iso(i.escalation_answered_at),
        "first_progress_at": _iso(i.first_progress_at),
        "progress_reports": [report_dict(r) for r in i.progress_reports],
        "resolved_at": _iso(i.resolved_at),
        "resolved_by": i.resolved_by,
        "resolution": i.resolution,
        "closed_at": _iso(i.closed_at),
        "related_incident_id": i.related_incident_id,
        "notes": i.notes,
        "updated_at": _iso(i.updated_at),
    }


def survey_dict(s: SurveyResponse) -> dict[str, Any]:
    return {
        "respondent": s.respondent,
        "incident_id": s.incident_id,
        "answers": list(s.answers),
        "at": s.at.isoformat(),
    }
