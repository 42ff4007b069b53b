"""The incident API's models: what each route takes (with its limits) and answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from callcenter.incidents.figures import Figure, IncidentFigures, Risk
from callcenter.incidents.model import Flag, Incident, Priority, ReportHow, Resolution, Status
from callcenter.incidents.serialize import HistoryEntryJson, IncidentJson, Iso, SurveyJson
from callcenter.web.api.types import Blankable, Day, Id, Instant, Month, Omittable, Text

# Limits of what a person types (the database's columns are no narrower).
NUMBER_MAX = 64
NAME_MAX = 128
AGENT_NAME_MAX = 80
AGENT_ID_MAX = 40
CATEGORY_MAX = 80
NOTES_MAX = 20000
NOTE_MAX = 4000
LIST_LIMIT_MAX = 1000

Note = Annotated[str, Blankable(NOTE_MAX), Field(description="recorded with the history entry")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- what the routes take ------------------------------------------------------------------


class IncidentQuery(_Body):
    status: list[Status] = Field(default=[], description="one or more statuses")
    open: bool = Field(default=False, description="only unresolved ones")
    agent_id: Omittable[Annotated[str, Text(AGENT_ID_MAX)]] = Field(
        default=None, description="the agent's"
    )
    caller_number: Omittable[Annotated[str, Text(NUMBER_MAX)]] = Field(
        default=None, description="the caller's number, exactly"
    )
    queue: Omittable[Annotated[str, Text(64)]] = Field(default=None, description="the queue's name")
    from_: Omittable[Day] = Field(
        default=None, alias="from", description="received on or after this day (service zone)"
    )
    to: Omittable[Day] = Field(default=None, description="received before this day (exclusive)")
    limit: int = Field(default=100, ge=1, le=LIST_LIMIT_MAX)
    offset: int = Field(default=0, ge=0, le=10**9)


class MonthQuery(_Body):
    month: Omittable[Month] = Field(default=None, description="YYYY-MM; default this month")


RELATED = (
    "an earlier incident of the same caller; agents: only their own incidents (an unknown "
    "id and another's get the same 422)"
)


class NewIncident(_Body):
    """An incident opened by hand (an e-mail, a walk-in): every field optional."""

    model_config = ConfigDict(title="NewIncident")

    received_at: Omittable[Instant] = Field(
        default=None, description="with its UTC offset; default now"
    )
    caller_number: Omittable[Annotated[str, Text(NUMBER_MAX)]] = None
    caller_name: Omittable[Annotated[str, Text(NAME_MAX)]] = None
    queue: Omittable[Annotated[str, Text(64)]] = None
    agent: Omittable[Annotated[str, Text(AGENT_NAME_MAX)]] = None
    agent_id: Omittable[Annotated[str, Text(AGENT_ID_MAX)]] = Field(
        default=None, description="agents: their own (the default)"
    )
    category: Omittable[Annotated[str, Text(CATEGORY_MAX)]] = None
    priority: Omittable[Priority] = None
    flags: Omittable[list[Flag]] = None
    notes: Omittable[Annotated[str, Blankable(NOTES_MAX)]] = None
    related_incident_id: Omittable[Id] = Field(default=None, description=RELATED)


class IncidentChange(_Body):
    """Details changed at any status (closed included); at least one besides note."""

    model_config = ConfigDict(title="IncidentChange")

    category: Annotated[str, Text(CATEGORY_MAX)] | None = None
    priority: Omittable[Priority] = None
    flags: Omittable[list[Flag]] = None
    notes: Omittable[Annotated[str, Blankable(NOTES_MAX)]] = None
    related_incident_id: Id | None = Field(default=None, description=RELATED)
    note: Note = ""


class NoteOnly(_Body):
    note: Note = ""


class Escalation(_Body):
    to: Annotated[str, Text(AGENT_NAME_MAX)] = Field(description="the second line's team or person")
    note: Note = ""


class ProgressReportIn(_Body):
    how: ReportHow
    note: Note = ""


class Resolve(_Body):
    resolution: Omittable[Resolution] = Field(
        default=None, description="default: second_line if escalated, else first_line"
    )
    note: Note = ""


class SurveyIn(_Body):
    answers: list[Annotated[int, Field(ge=1, le=5)]] = Field(
        min_length=1, max_length=50, description="1 (不満) to 5 (満足)"
    )
    respondent: Omittable[Annotated[str, Text(NAME_MAX)]] = Field(
        default=None, description="default: the caller's number"
    )


class SecondLineAnswer(_Body):
    incident_id: Id = Field(description="as in the URL: the signature does not cover the URL")
    note: Note = ""


# -- what they answer ----------------------------------------------------------------------


class IncidentList(_Answer):
    incidents: list[IncidentJson]
    limit: int
    offset: int


class OneIncident(_Answer):
    incident: IncidentJson

    @classmethod
    def of(cls, incident: Incident) -> OneIncident:
        return cls(incident=IncidentJson.of(incident))


class IncidentWithHistory(_Answer):
    incident: IncidentJson
    history: list[HistoryEntryJson]


class FigureJson(_Answer):
    model_config = ConfigDict(title="Figure")

    value: float | None
    count: int
    target: float
    met: bool | None

    @classmethod
    def of(cls, f: Figure) -> FigureJson:
        return cls(value=f.value, count=f.count, target=f.target, met=f.met)


class FiguresJson(_Answer):
    """The month's five figures (docs/incidents.md)."""

    model_config = ConfigDict(title="Figures")

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    start: Iso
    end: Iso
    incidents: int
    unresolved: int
    first_contact_resolution: FigureJson
    handling_seconds: FigureJson
    escalation_seconds: FigureJson
    progress_seconds: FigureJson
    satisfaction: FigureJson

    @classmethod
    def of(cls, month: str, f: IncidentFigures) -> FiguresJson:
        return cls(
            month=month,
            start=f.start,
            end=f.end,
            incidents=f.incidents,
            unresolved=f.unresolved,
            **{name: FigureJson.of(fig) for name, fig in f.figures().items()},
        )


class RiskJson(_Answer):
    model_config = ConfigDict(title="Risk")

    incident_id: int
    figure: Literal["handling_seconds", "progress_seconds"]
    state: Literal["breached", "at_risk"]
    elapsed_seconds: float
    target_seconds: float
    urgency: float = Field(description="elapsed / target")
    incident: IncidentJson

    @classmethod
    def of(cls, risk: Risk, incident: Incident) -> RiskJson:
        assert incident.id is not None
        return cls(
            incident_id=incident.id,
            figure=risk.figure,  # type: ignore[arg-type]  # at_risk: these two only
            state=risk.state,
            elapsed_seconds=risk.elapsed_seconds,
            target_seconds=risk.target_seconds,
            urgency=risk.urgency,
            incident=IncidentJson.of(incident),
        )


class RisksJson(_Answer):
    at: Iso
    risks: list[RiskJson]


class OneSurvey(_Answer):
    survey: SurveyJson
