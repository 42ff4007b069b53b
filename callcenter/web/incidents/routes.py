"""The incident endpoints: list, read, open by hand, change through the lifecycle, the
month's figures, what is at risk now and form surveys (the second line's signed answer
is in ``second_line``).

Every change goes through ``IncidentStore.change`` (its history entry and webhook in the
same transaction); this module only checks who may do it. What was sent is checked by
the models (``models``) before a handler runs. The store is synchronous, so each call
runs in a thread and the event loop keeps serving calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel

from callcenter.incidents.figures import (
    IncidentFigures,
    IncidentTargets,
    Risk,
    at_risk,
    month_range,
    monthly_figures,
)
from callcenter.incidents.model import Incident, IncidentError, SurveyResponse
from callcenter.incidents.serialize import HistoryEntryJson, IncidentJson, SurveyJson
from callcenter.incidents.store import IncidentFilter, IncidentNotFound, IncidentStore
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.web.api import PREFIX, PathParam, Reply, endpoint
from callcenter.web.auth import READERS, STAFF, Principal, principal
from callcenter.web.deps import ApiDeps
from callcenter.web.errors import ApiError, invalid
from callcenter.web.incidents.models import (
    Escalation,
    FiguresJson,
    IncidentChange,
    IncidentList,
    IncidentQuery,
    IncidentWithHistory,
    MonthQuery,
    NewIncident,
    NoteOnly,
    OneIncident,
    OneSurvey,
    ProgressReportIn,
    Resolve,
    RiskJson,
    RisksJson,
    SurveyIn,
)

log = structlog.get_logger("callcenter.web")

_T = TypeVar("_T")
_H = TypeVar("_H", bound=Callable[..., Awaitable[Any]])

INCIDENT_ID = PathParam(
    "id", r"[1-9]\d{0,17}", {"type": "integer", "minimum": 1}, "the incident's id"
)
SURVEY_SOURCE = "form"
# An agent's answer for a link it may not make, whether the incident exists or not.
RELATED_REFUSED = "not an incident of yours (an agent links only to its own incidents)"
_P = f"{PREFIX}/incidents"
_ONE = f"{_P}/{{id}}"
_OWN = "Agents only on their own incidents; supervisors and admins on all."
_ACTOR = "The actor recorded is the token's name (an agent's agent_id)."
_NOT_OWN = "an agent acting on another agent's incident"


# -- what the figures endpoints compute ----------------------------------------------


def month_figures(
    store: IncidentStore,
    calendar: BusinessCalendar,
    year: int,
    month: int,
    targets: IncidentTargets | None = None,
) -> IncidentFigures:
    """The month's five figures: incidents received and surveys given in that month (in
    the service's time zone), docs/incidents.md."""
    start, end = month_range(year, month, calendar.tz)
    return monthly_figures(
        store.received_between(start, end),
        store.surveys(start, end),
        calendar,
        year,
        month,
        targets,
    )


def risks_now(
    store: IncidentStore,
    calendar: BusinessCalendar,
    now: datetime,
    targets: IncidentTargets | None = None,
) -> list[tuple[Risk, Incident]]:
    """The open incidents past, or near, a time target, most urgent first, each with its
    incident (what a supervisor needs to act on it without a second request)."""
    incidents = store.open_incidents()
    by_id = {i.id: i for i in incidents}
    return [(r, by_id[r.incident_id]) for r in at_risk(incidents, now, calendar, targets)]


def _action(summary: str, body: type[BaseModel], conflict: str, **spec: Any) -> Callable[[_H], _H]:
    """A lifecycle action on one incident."""
    return endpoint(
        "POST",
        f"{_ONE}/{spec.pop('verb')}",
        summary=summary,
        tag="incidents",
        description=f"{_OWN} {_ACTOR}",
        params=(INCIDENT_ID,),
        body=body,
        ok=OneIncident,
        errors={403: _NOT_OWN, 404: "no such incident", 409: conflict},
        **spec,
    )


# -- the routes ------------------------------------------------------------------------


def _incident_id(request: web.Request) -> int:
    return int(request.match_info["id"])


async def store_call(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a store call in a thread; its refusals become the HTTP answers they mean."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except IncidentNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except IncidentError as exc:
        if exc.field == "status":  # the transition, not a value, is refused
            raise ApiError(409, str(exc), field="status") from None
        raise invalid(exc.field, exc.message) from None


class IncidentRoutes:
    """The handlers, bound to their dependencies."""

    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self.store = deps.incidents

    # -- reading ---------------------------------------------------------------------

    @endpoint(
        "GET",
        _P,
        summary="Search incidents, newest received first",
        tag="incidents",
        description="Agents see only their own incidents (agent_id is theirs).",
        query=IncidentQuery,
        ok=IncidentList,
        errors={403: "an agent asking for another agent's incidents"},
    )
    async def list_incidents(self, request: web.Request, query: IncidentQuery) -> IncidentList:
        who = principal(request)
        tz = self.deps.calendar.tz
        day_from, day_to = query.from_, query.to
        if day_from and day_to and day_to < day_from:
            raise invalid("to", "is before from")
        agent_id = query.agent_id
        if not who.sees_all:
            if agent_id is not None and agent_id != who.agent_id:
                raise ApiError(403, "agents see only their own incidents")
            agent_id = who.agent_id
        f = IncidentFilter(
            status=tuple(dict.fromkeys(query.status)),
            open_only=query.open,
            agent_id=agent_id,
            caller_number=query.caller_number,
            queue=query.queue,
            received_from=_midnight(day_from, tz),
            received_to=_midnight(day_to, tz),
            limit=query.limit,
            offset=query.offset,
        )
        found = await store_call(self.store.search, f)
        return IncidentList(
            incidents=[IncidentJson.of(i) for i in found], limit=f.limit, offset=f.offset
        )

    @endpoint(
        "GET",
        _ONE,
        summary="One incident and its history",
        tag="incidents",
        description="Agents only their own.",
        params=(INCIDENT_ID,),
        ok=IncidentWithHistory,
        errors={403: _NOT_OWN, 404: "no such incident"},
    )
    async def get(self, request: web.Request) -> IncidentWithHistory:
        incident = await self._own_incident(request, reading=True)
        assert incident.id is not None
        history = await store_call(self.store.history, incident.id)
        return IncidentWithHistory(
            incident=IncidentJson.of(incident), history=[HistoryEntryJson.of(h) for h in history]
        )

    @endpoint(
        "GET",
        f"{_P}/figures",
        summary="The month's five figures with their targets",
        tag="figures",
        description="Incidents received, and surveys given, in the month (service time "
        "zone); docs/incidents.md.",
        roles=READERS,
        query=MonthQuery,
        ok=FiguresJson,
    )
    async def figures(self, request: web.Request, query: MonthQuery) -> FiguresJson:
        now = self.deps.now().astimezone(self.deps.calendar.tz)
        month = query.month or f"{now.year:04d}-{now.month:02d}"
        year, mm = (int(part) for part in month.split("-"))
        figures = await store_call(
            month_figures, self.store, self.deps.calendar, year, mm, self.deps.targets
        )
        return FiguresJson.of(month, figures)

    @endpoint(
        "GET",
        f"{_P}/at-risk",
        summary="Open incidents past, or near, a time target; most urgent first",
        tag="figures",
        roles=READERS,
        ok=RisksJson,
    )
    async def at_risk(self, request: web.Request) -> RisksJson:
        now = self.deps.now()
        risks = await store_call(risks_now, self.store, self.deps.calendar, now, self.deps.targets)
        return RisksJson(at=now, risks=[RiskJson.of(*r) for r in risks])

    # -- opening and changing -----------------------------------------------------------

    @endpoint(
        "POST",
        _P,
        summary="Open an incident by hand (no call)",
        tag="incidents",
        description="Supervisors and admins for anyone; an agent for itself only "
        "(agent_id defaults to, and must be, its own).",
        body=NewIncident,
        ok=OneIncident,
        status=201,
        ok_description="Opened",
        errors={403: "an agent opening an incident for another agent"},
    )
    async def create(self, request: web.Request, body: NewIncident) -> Reply:
        who = principal(request)
        # The values as validated (model_dump would write the times out as text).
        fields = {k: v for k in NewIncident.model_fields if (v := getattr(body, k)) is not None}
        if "flags" in fields:
            fields["flags"] = list(dict.fromkeys(fields["flags"]))
        if not who.is_staff:
            if fields.get("agent_id") not in (None, who.agent_id):
                raise ApiError(403, "agents open incidents only for themselves")
            fields["agent_id"] = who.agent_id
        await self._check_related(who, body.related_incident_id)
        incident = await store_call(self.store.create, who.actor, self.deps.now(), **fields)
        log.info("api.incident_created", incident_id=incident.id, actor=who.actor)
        return Reply(
            OneIncident.of(incident),
            status=201,
            headers={"Location": f"{_P}/{incident.id}"},
        )

    @endpoint(
        "PATCH",
        _ONE,
        summary="Change details (allowed at any status, closed included)",
        tag="incidents",
        description=f"{_OWN} At least one field besides note.",
        params=(INCIDENT_ID,),
        body=IncidentChange,
        body_required=True,
        ok=OneIncident,
        errors={403: _NOT_OWN, 404: "no such incident"},
    )
    async def update(self, request: web.Request, body: IncidentChange) -> OneIncident:
        changes = {k: getattr(body, k) for k in body.model_fields_set if k != "note"}
        if "flags" in changes:
            changes["flags"] = list(dict.fromkeys(changes["flags"]))
        if "related_incident_id" in changes:
            await self._check_related(principal(request), body.related_incident_id)
        if not changes:
            fields = [f for f in IncidentChange.model_fields if f != "note"]
            raise ApiError(422, f"nothing to update: give any of {', '.join(fields)}")
        return await self._change(request, "update", note=body.note, **changes)

    @_action("Start work (received -> in_progress)", NoteOnly, "not received", verb="start")
    async def start(self, request: web.Request, body: NoteOnly) -> OneIncident:
        return await self._change(request, "start", note=body.note)

    @_action(
        "Hand to the second line (once per incident)",
        Escalation,
        "not received or in progress, or already escalated",
        verb="escalate",
        body_required=True,
    )
    async def escalate(self, request: web.Request, body: Escalation) -> OneIncident:
        return await self._change(request, "escalate", to=body.to, note=body.note)

    @_action("Record the second line's answer", NoteOnly, "not escalated", verb="escalation-answer")
    async def escalation_answer(self, request: web.Request, body: NoteOnly) -> OneIncident:
        return await self._change(request, "answer_escalation", note=body.note)

    @_action(
        "Record a progress report to the caller",
        ProgressReportIn,
        "closed",
        verb="progress",
        body_required=True,
    )
    async def progress(self, request: web.Request, body: ProgressReportIn) -> OneIncident:
        return await self._change(request, "report_progress", how=body.how, note=body.note)

    @_action(
        "Resolve (default resolution: second_line if escalated, else first_line)",
        Resolve,
        "already resolved or closed",
        verb="resolve",
    )
    async def resolve(self, request: web.Request, body: Resolve) -> OneIncident:
        return await self._change(request, "resolve", resolution=body.resolution, note=body.note)

    @_action("Close (final)", NoteOnly, "not resolved", verb="close")
    async def close(self, request: web.Request, body: NoteOnly) -> OneIncident:
        return await self._change(request, "close", note=body.note)

    @_action("Reopen (resolved -> in_progress)", NoteOnly, "not resolved", verb="reopen")
    async def reopen(self, request: web.Request, body: NoteOnly) -> OneIncident:
        return await self._change(request, "reopen", note=body.note)

    @endpoint(
        "POST",
        f"{_ONE}/surveys",
        summary="Record a satisfaction survey from a form",
        tag="incidents",
        description="Answers are 1 (不満) to 5 (満足); the respondent defaults to the "
        "caller's number.",
        roles=STAFF,
        params=(INCIDENT_ID,),
        body=SurveyIn,
        body_required=True,
        ok=OneSurvey,
        status=201,
        ok_description="Stored",
        errors={404: "no such incident", 409: "this respondent's survey at this time is stored"},
    )
    async def add_survey(self, request: web.Request, body: SurveyIn) -> Reply:
        incident = await store_call(self.store.get, _incident_id(request))
        assert incident.id is not None
        response = SurveyResponse(
            body.respondent or incident.caller_number or f"incident:{incident.id}",
            incident.id,
            tuple(body.answers),
            self.deps.now(),
        )
        if not await store_call(self.store.add_survey, response, SURVEY_SOURCE):
            raise ApiError(409, "this respondent's survey at this time is already stored")
        return Reply(OneSurvey(survey=SurveyJson.of(response)), status=201)

    # -- helpers -------------------------------------------------------------------------

    async def _own_incident(self, request: web.Request, *, reading: bool = False) -> Incident:
        incident = await store_call(self.store.get, _incident_id(request))
        who = principal(request)
        if not (who.may_read(incident.agent_id) if reading else who.may_act_on(incident.agent_id)):
            raise ApiError(403, f"incident {incident.id} is not yours (agents act on their own)")
        return incident

    async def _check_related(self, who: Principal, related: int | None) -> None:
        """A link only to an incident that ``who`` may read. An agent is told the same
        (status and body) for an id that does not exist and one that is not its own, so
        that linking does not tell it which incident ids exist."""
        if related is None:
            return
        try:
            target = await asyncio.to_thread(self.store.get, related)
        except IncidentNotFound:
            target = None
        if who.is_staff:
            if target is None:
                raise invalid("related_incident_id", f"incident {related} does not exist")
            return
        if target is None or not who.may_act_on(target.agent_id):
            raise invalid("related_incident_id", RELATED_REFUSED)

    async def _change(self, request: web.Request, action: str, **kwargs: Any) -> OneIncident:
        who = principal(request)
        incident = await self._own_incident(request)
        assert incident.id is not None
        # The owner check read the row; the change re-reads it under its version check,
        # and no action changes agent_id, so the check still holds when it applies.
        changed = await store_call(
            self.store.change, incident.id, action, who.actor, self.deps.now(), **kwargs
        )
        log.info("api.incident_changed", incident_id=incident.id, action=action, actor=who.actor)
        return OneIncident.of(changed)


def _midnight(day: date | None, tz: tzinfo) -> datetime | None:
    """The first instant of ``day`` in ``tz`` (the service's zone)."""
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=tz)
