"""The incident endpoints: list, read, open by hand, change through the lifecycle, the
month's figures, what is at risk now, form surveys, and the second line's answer.

Every change goes through ``IncidentStore.change`` (its history entry and webhook in the
same transaction); this module only checks who may do it and what was sent. The store
is synchronous, so each call runs in a thread and the event loop keeps serving calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from aiohttp import web

from callcenter.incidents.figures import (
    IncidentFigures,
    IncidentTargets,
    Risk,
    at_risk,
    month_range,
    monthly_figures,
)
from callcenter.incidents.model import (
    FLAGS,
    PRIORITIES,
    REPORT_HOWS,
    RESOLUTIONS,
    STATUSES,
    Incident,
    IncidentError,
    SurveyResponse,
)
from callcenter.incidents.serialize import incident_dict, survey_dict
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.store.incidents import IncidentFilter, IncidentNotFound, IncidentStore
from callcenter.web.auth import STAFF, Principal, principal, public, require_role
from callcenter.web.deps import ApiDeps
from callcenter.web.errors import ApiError, invalid, json_response
from callcenter.web.validation import Body, Query, json_object, parse_object
from callcenter.webhooks.signing import SignatureError, verify

log = structlog.get_logger("callcenter.web")

_T = TypeVar("_T")

PREFIX = "/api/v1"
ID = r"{id:\d{1,18}}"  # beyond 18 digits it is no id of ours (and overflows a BIGINT)
SECOND_LINE_ACTOR = "second-line"
REPLAY_WINDOW = 600.0  # seconds: longer than the signatures' tolerance (300 s either way)
SURVEY_SOURCE = "form"
NOTE_MAX = 4000
NOTES_MAX = 20000
LIST_LIMIT_MAX = 1000
# An agent's answer for a link it may not make, whether the incident exists or not.
RELATED_REFUSED = "not an incident of yours (an agent links only to its own incidents)"

CREATE_FIELDS = (
    *("received_at", "caller_number", "caller_name", "queue", "agent", "agent_id"),
    *("category", "priority", "flags", "notes", "related_incident_id"),
)
UPDATE_FIELDS = ("category", "priority", "flags", "notes", "related_incident_id", "note")
LIST_PARAMS = (
    *("status", "open", "agent_id", "caller_number", "queue", "from", "to"),
    *("limit", "offset"),
)


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


def risk_dict(risk: Risk, incident: Incident) -> dict[str, Any]:
    return {
        "incident_id": risk.incident_id,
        "figure": risk.figure,
        "state": risk.state,
        "elapsed_seconds": risk.elapsed_seconds,
        "target_seconds": risk.target_seconds,
        "urgency": risk.urgency,
        "incident": incident_dict(incident),
    }


# -- the routes ------------------------------------------------------------------------


def _incident_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _check_owner(who: Principal, incident: Incident) -> None:
    if not who.may_act_on(incident.agent_id):
        raise ApiError(403, f"incident {incident.id} is not yours (agents act on their own)")


async def _store(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
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
        self._seen_signatures: dict[str, float] = {}  # second-line signatures, when used

    def routes(self) -> list[web.RouteDef]:
        p = f"{PREFIX}/incidents"
        return [
            web.get(p, self.list_incidents),
            web.post(p, self.create),
            web.get(f"{p}/figures", self.figures),
            web.get(f"{p}/at-risk", self.at_risk),
            web.get(f"{p}/{ID}", self.get),
            web.patch(f"{p}/{ID}", self.update),
            web.post(f"{p}/{ID}/start", self.start),
            web.post(f"{p}/{ID}/escalate", self.escalate),
            web.post(f"{p}/{ID}/escalation-answer", self.escalation_answer),
            web.post(f"{p}/{ID}/progress", self.progress),
            web.post(f"{p}/{ID}/resolve", self.resolve),
            web.post(f"{p}/{ID}/close", self.close),
            web.post(f"{p}/{ID}/reopen", self.reopen),
            web.post(f"{p}/{ID}/surveys", self.add_survey),
            web.post(f"{PREFIX}/second-line/incidents/{ID}/answer", self.second_line_answer),
        ]

    # -- reading ---------------------------------------------------------------------

    async def list_incidents(self, request: web.Request) -> web.Response:
        who = principal(request)
        q = Query(request.query, LIST_PARAMS)
        tz = self.deps.calendar.tz
        received_from, received_to = q.day("from", tz), q.day("to", tz)
        if received_from and received_to and received_to < received_from:
            raise invalid("to", "is before from")
        agent_id = q.text("agent_id", max_length=40)
        if not who.is_staff:
            if agent_id is not None and agent_id != who.agent_id:
                raise ApiError(403, "agents see only their own incidents")
            agent_id = who.agent_id
        f = IncidentFilter(
            status=q.choices("status", STATUSES),
            open_only=bool(q.boolean("open")),
            agent_id=agent_id,
            caller_number=q.text("caller_number", max_length=64),
            queue=q.text("queue", max_length=64),
            received_from=received_from,
            received_to=received_to,
            limit=q.integer("limit", default=100, minimum=1, maximum=LIST_LIMIT_MAX),
            offset=q.integer("offset", default=0, minimum=0, maximum=10**9),
        )
        found = await _store(self.store.search, f)
        return json_response(
            {"incidents": [incident_dict(i) for i in found], "limit": f.limit, "offset": f.offset}
        )

    async def get(self, request: web.Request) -> web.Response:
        incident = await self._own_incident(request)
        assert incident.id is not None
        history = await _store(self.store.history, incident.id)
        return json_response(
            {"incident": incident_dict(incident), "history": [h.to_dict() for h in history]}
        )

    async def figures(self, request: web.Request) -> web.Response:
        require_role(request, STAFF)
        q = Query(request.query, ("month",))
        now = self.deps.now().astimezone(self.deps.calendar.tz)
        year, month = q.month("month") or (now.year, now.month)
        figures = await _store(
            month_figures, self.store, self.deps.calendar, year, month, self.deps.targets
        )
        return json_response({"month": f"{year:04d}-{month:02d}", **figures.to_dict()})

    async def at_risk(self, request: web.Request) -> web.Response:
        require_role(request, STAFF)
        Query(request.query, ())
        now = self.deps.now()
        risks = await _store(risks_now, self.store, self.deps.calendar, now, self.deps.targets)
        return json_response({"at": now.isoformat(), "risks": [risk_dict(*r) for r in risks]})

    # -- opening and changing -----------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        who = principal(request)
        body = Body(await json_object(request), CREATE_FIELDS)
        fields: dict[str, Any] = {
            "received_at": body.instant("received_at"),
            "caller_number": body.text("caller_number", max_length=64),
            "caller_name": body.text("caller_name", max_length=128),
            "queue": body.text("queue", max_length=64),
            "agent": body.text("agent", max_length=80),
            "agent_id": body.text("agent_id", max_length=40),
            "category": body.text("category", max_length=80),
            "priority": body.choice("priority", PRIORITIES),
            "flags": body.choices("flags", FLAGS),
            "notes": body.text("notes", max_length=NOTES_MAX, blank=True),
            "related_incident_id": body.integer("related_incident_id", minimum=1),
        }
        if not who.is_staff:
            if fields["agent_id"] not in (None, who.agent_id):
                raise ApiError(403, "agents open incidents only for themselves")
            fields["agent_id"] = who.agent_id
        await self._check_related(who, fields["related_incident_id"])
        given = {k: v for k, v in fields.items() if v is not None}
        incident = await _store(self.store.create, who.actor, self.deps.now(), **given)
        log.info("api.incident_created", incident_id=incident.id, actor=who.actor)
        return json_response(
            {"incident": incident_dict(incident)},
            status=201,
            headers={"Location": f"{PREFIX}/incidents/{incident.id}"},
        )

    async def update(self, request: web.Request) -> web.Response:
        body = Body(await json_object(request), UPDATE_FIELDS)
        changes: dict[str, Any] = {}
        if "category" in body:
            changes["category"] = body.text("category", nullable=True, max_length=80)
        if "priority" in body:
            changes["priority"] = body.choice("priority", PRIORITIES)
        if "flags" in body:
            changes["flags"] = body.choices("flags", FLAGS)
        if "notes" in body:
            changes["notes"] = body.text("notes", max_length=NOTES_MAX, blank=True)
        if "related_incident_id" in body:
            related = body.integer("related_incident_id", nullable=True, minimum=1)
            await self._check_related(principal(request), related)
            changes["related_incident_id"] = related
        note = body.text("note", max_length=NOTE_MAX, blank=True) or ""
        if not changes:
            raise ApiError(422, f"nothing to update: give any of {', '.join(UPDATE_FIELDS[:-1])}")
        return await self._change(request, "update", note=note, **changes)

    async def start(self, request: web.Request) -> web.Response:
        return await self._change(request, "start", **self._note_only(await json_object(request)))

    async def escalate(self, request: web.Request) -> web.Response:
        body = Body(await json_object(request), ("to", "note"))
        return await self._change(
            request,
            "escalate",
            to=body.required_text("to", max_length=80),
            note=body.text("note", max_length=NOTE_MAX, blank=True) or "",
        )

    async def escalation_answer(self, request: web.Request) -> web.Response:
        body = self._note_only(await json_object(request))
        return await self._change(request, "answer_escalation", **body)

    async def progress(self, request: web.Request) -> web.Response:
        body = Body(await json_object(request), ("how", "note"))
        how = body.choice("how", REPORT_HOWS)
        if how is None:
            raise invalid("how", f"is required (one of {', '.join(REPORT_HOWS)})")
        note = body.text("note", max_length=NOTE_MAX, blank=True) or ""
        return await self._change(request, "report_progress", how=how, note=note)

    async def resolve(self, request: web.Request) -> web.Response:
        body = Body(await json_object(request), ("resolution", "note"))
        return await self._change(
            request,
            "resolve",
            resolution=body.choice("resolution", RESOLUTIONS),
            note=body.text("note", max_length=NOTE_MAX, blank=True) or "",
        )

    async def close(self, request: web.Request) -> web.Response:
        return await self._change(request, "close", **self._note_only(await json_object(request)))

    async def reopen(self, request: web.Request) -> web.Response:
        body = self._note_only(await json_object(request))
        return await self._change(request, "reopen", **body)

    async def add_survey(self, request: web.Request) -> web.Response:
        require_role(request, STAFF)
        body = Body(await json_object(request), ("answers", "respondent"))
        answers = body.integers("answers", minimum=1, maximum=5, required=True)
        assert answers is not None
        respondent = body.text("respondent", max_length=128)
        incident = await _store(self.store.get, _incident_id(request))
        assert incident.id is not None
        response = SurveyResponse(
            respondent or incident.caller_number or f"incident:{incident.id}",
            incident.id,
            tuple(answers),
            self.deps.now(),
        )
        if not await _store(self.store.add_survey, response, SURVEY_SOURCE):
            raise ApiError(409, "this respondent's survey at this time is already stored")
        return json_response({"survey": survey_dict(response)}, status=201)

    @public  # the second line has no bearer token: it signs each request instead
    async def second_line_answer(self, request: web.Request) -> web.Response:
        secret = self.deps.second_line_secret
        if not secret:
            raise ApiError(404, "no such resource")  # as if the route did not exist
        raw = await request.read()
        now = self.deps.now()
        try:
            # The signature that verified, not the header: the header can be varied (",v1=00"
            # appended, spaces) and still verify, so only this value marks a replay.
            signature = verify(secret, request.headers, raw, now.timestamp())
        except SignatureError as exc:
            # The reason names a header or a mismatch, never the secret.
            log.warning("api.second_line_refused", path=request.path, reason=str(exc))
            raise ApiError(401, f"signature refused: {exc}") from None
        # The signature covers the body, not the URL: the body must name the incident, or
        # one signed answer could be replayed onto every other open escalation.
        body = Body(parse_object(raw), ("incident_id", "note"))
        incident_id = _incident_id(request)
        named = body.data.get("incident_id")
        if type(named) is not int or named != incident_id:
            raise ApiError(
                422,
                f"incident_id: the signed body must name incident {incident_id}",
                code="invalid",
                field="incident_id",
            )
        if not self._first_use(signature, now.timestamp()):
            log.warning("api.second_line_replayed", path=request.path)
            raise ApiError(409, "this signed request was already used", code="replayed")
        note = body.text("note", max_length=NOTE_MAX, blank=True) or ""
        incident = await _store(
            self.store.change,
            incident_id,
            "answer_escalation",
            SECOND_LINE_ACTOR,
            now,
            note=note,
        )
        log.info("api.second_line_answer", incident_id=incident.id)
        return json_response({"incident": incident_dict(incident)})

    # -- helpers -------------------------------------------------------------------------

    def _first_use(self, signature: str, now: float) -> bool:
        """False for a signature seen within the signatures' tolerance (a replay)."""
        seen = self._seen_signatures
        for old in [k for k, at in seen.items() if at < now - REPLAY_WINDOW]:
            del seen[old]
        if signature in seen:
            return False
        seen[signature] = now
        return True

    @staticmethod
    def _note_only(data: dict[str, Any]) -> dict[str, str]:
        body = Body(data, ("note",))
        return {"note": body.text("note", max_length=NOTE_MAX, blank=True) or ""}

    async def _own_incident(self, request: web.Request) -> Incident:
        incident = await _store(self.store.get, _incident_id(request))
        _check_owner(principal(request), incident)
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

    async def _change(self, request: web.Request, action: str, **kwargs: Any) -> web.Response:
        who = principal(request)
        incident = await self._own_incident(request)
        assert incident.id is not None
        # The owner check read the row; the change re-reads it under its version check,
        # and no action changes agent_id, so the check still holds when it applies.
        changed = await _store(
            self.store.change, incident.id, action, who.actor, self.deps.now(), **kwargs
        )
        log.info("api.incident_changed", incident_id=incident.id, action=action, actor=who.actor)
        return json_response({"incident": incident_dict(changed)})
