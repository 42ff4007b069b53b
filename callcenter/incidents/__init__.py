"""Incidents (tickets): the pure core (docs/incidents.md).

- ``callcenter.incidents.model``: ``Incident``, ``HistoryEntry``, ``SurveyResponse``,
  ``IncidentError`` and the allowed values.
- ``callcenter.incidents.lifecycle``: what can be done to an incident, as pure functions
  returning the new incident and its history entry.
- ``callcenter.incidents.figures``: the contract's five monthly figures (SPEC 3) in
  business time, and the incidents at risk of missing a target now.
"""

from callcenter.incidents.figures import (
    Figure,
    IncidentFigures,
    IncidentTargets,
    Risk,
    at_risk,
    incident_figures,
    monthly_figures,
)
from callcenter.incidents.lifecycle import (
    KEEP,
    answer_escalation,
    close,
    escalate,
    open_incident,
    reopen,
    report_progress,
    resolve,
    start,
    update,
)
from callcenter.incidents.model import (
    HistoryEntry,
    Incident,
    IncidentError,
    ProgressReport,
    SurveyResponse,
)

__all__ = [
    "KEEP",
    "Figure",
    "HistoryEntry",
    "Incident",
    "IncidentError",
    "IncidentFigures",
    "IncidentTargets",
    "ProgressReport",
    "Risk",
    "SurveyResponse",
    "answer_escalation",
    "at_risk",
    "close",
    "escalate",
    "incident_figures",
    "monthly_figures",
    "open_incident",
    "reopen",
    "report_progress",
    "resolve",
    "start",
    "update",
]
