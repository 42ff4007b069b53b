"""GET /followups, /followups/recall and /followups/{id}; POST /followups/{id}/callback
and /followups/{id}/result. Every principal reads the list (agents call the callers
back); an agent rings its own phone, staff name the agent; auditors change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter import calls as call_errors
from callcenter.followups.desk import FollowupDesk
from callcenter.followups.rules import Reason, Result, Status
from callcenter.followups.store import FollowupClosedError, UnknownFollowupError
from callcenter.web.api import PREFIX, PathParam, endpoint
from callcenter.web.auth import READERS, principal
from callcenter.web.errors import ApiError, invalid
from callcenter.web.followups.models import Attempt as AttemptJson
from callcenter.web.followups.models import (
    CallBack,
    CallBackIn,
    Followup,
    FollowupQuery,
    Followups,
    OneFollowup,
    Recall,
    RecallQuery,
    ResultIn,
)
from callcenter.web.pbxside import PBX_REFUSED, UNAVAILABLE, PbxArea, pbx_refused

_T = TypeVar("_T")
_P = f"{PREFIX}/followups"
FOLLOWUP_ID = PathParam(
    "id", r"[1-9]\d{0,17}", {"type": "integer", "minimum": 1}, "the follow-up's id"
)
OFF = "the follow-up list is off on this server ([followups] enabled), or no PBX connection"
DB = {503: f"the database is not available; {OFF}"}


class FollowupRoutes(PbxArea):
    def _desk(self) -> FollowupDesk:
        desk = self.pbx.followups
        if desk is None:
            raise ApiError(503, OFF, code="unavailable")
        return desk

    @staticmethod
    async def _answer(work: Awaitable[_T]) -> _T:
        try:
            return await work
        except UnknownFollowupError as exc:
            raise ApiError(404, str(exc)) from None
        except FollowupClosedError as exc:
            raise ApiError(409, str(exc)) from None
        except call_errors.UnknownAgentError as exc:
            raise ApiError(404, str(exc)) from None
        except call_errors.AgentBusyError as exc:
            raise ApiError(409, str(exc)) from None
        except call_errors.PBXError as exc:
            raise pbx_refused(exc) from None
        except SQLAlchemyError:
            raise ApiError(503, "the database did not answer", code="unavailable") from None

    @endpoint(
        "GET",
        _P,
        summary="The follow-up list: callers not reached yet (open), the longest waiting first",
        tag="followups",
        description=(
            "Callers whose call was abandoned (beyond the one-ring threshold), heard the "
            "after-hours message, left a voicemail or asked for a callback; one entry per "
            "number. status=reached,wrong_number lists the closed ones."
        ),
        query=FollowupQuery,
        ok=Followups,
        errors=DB,
    )
    async def list_followups(self, request: web.Request, query: FollowupQuery) -> Followups:
        found, total = await self._answer(
            self._desk().entries(
                statuses=[Status(s) for s in query.status] or [Status.OPEN],
                queue=query.queue,
                reasons=[Reason(r) for r in query.reason],
                caller=query.caller,
                limit=query.limit,
                offset=query.offset,
            )
        )
        return Followups(
            followups=[Followup.of(f) for f in found],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )

    @endpoint(
        "GET",
        f"{_P}/recall",
        summary="The recall figures: of the callers put on the list in the period, the share "
        "reached and the mean time to reach them",
        tag="followups",
        description="Local days of the service time zone; counted by the entry's first call.",
        roles=READERS,
        query=RecallQuery,
        ok=Recall,
        errors=DB,
    )
    async def recall(self, request: web.Request, query: RecallQuery) -> Recall:
        if query.to <= query.from_:
            raise invalid("to", "must be after from")
        tz = ZoneInfo(self.pbx.cfg.service.timezone)
        start = datetime.combine(query.from_, time(), tz)
        end = datetime.combine(query.to, time(), tz)
        figures = await self._answer(self._desk().recall(start, end))
        return Recall.of(query.from_, query.to, figures)

    @endpoint(
        "GET",
        f"{_P}/{{id}}",
        summary="One follow-up entry and its call-backs",
        tag="followups",
        params=(FOLLOWUP_ID,),
        ok=OneFollowup,
        errors={404: "no such follow-up", **DB},
    )
    async def get_followup(self, request: web.Request) -> OneFollowup:
        desk = self._desk()
        fid = int(request.match_info["id"])
        got = await self._answer(desk.get(fid))
        attempts = await self._answer(asyncio.to_thread(desk.store.attempts, fid))
        return OneFollowup(
            followup=Followup.of(got), attempts=[AttemptJson.of(a) for a in attempts]
        )

    @endpoint(
        "POST",
        f"{_P}/{{id}}/callback",
        summary="Call the caller back: the agent's phone rings first, then the caller's",
        tag="followups",
        description=(
            "One click: an Originate rings the agent's phone; answered, the PBX dials the "
            "caller ([followups] dial). The result is recorded as it happens: reached when "
            "the caller answers, no_answer when not (see the entry's pending attempt). "
            "An agent rings its own phone; supervisors and admins name the agent."
        ),
        params=(FOLLOWUP_ID,),
        body=CallBackIn,
        ok=CallBack,
        status=202,
        ok_description="The agent's phone is ringing",
        errors={
            403: "an agent ringing another agent's phone",
            404: "no such follow-up or agent",
            409: "the entry is closed, or the agent's phone is already on a call",
            422: "staff must name the agent (agent_id)",
            502: PBX_REFUSED,
            **UNAVAILABLE,
            **DB,
        },
    )
    async def call_back(self, request: web.Request, body: CallBackIn) -> CallBack:
        desk = self._desk()
        who = principal(request)
        agent_id = body.agent_id or (who.agent_id if who.role == "agent" else None)
        if agent_id is None:
            raise invalid("agent_id", "name the agent whose phone rings first")
        if not who.may_act_on(agent_id):
            raise ApiError(403, "agents ring only their own phone")
        fid = int(request.match_info["id"])
        started = await self._answer(desk.call_back(fid, agent_id, self.deps.now()))
        self.log(request, "followup_call_back", agent_id, followup=fid)
        return CallBack.of(started)

    @endpoint(
        "POST",
        f"{_P}/{{id}}/result",
        summary="Record a call-back's result: reached, no_answer or wrong_number",
        tag="followups",
        description=(
            "On the entry's ringing call-back, or as an attempt of its own (a call made "
            "otherwise). reached and wrong_number close the entry; wrong_number also "
            "corrects an entry a call-back closed as reached (someone else answered)."
        ),
        params=(FOLLOWUP_ID,),
        body=ResultIn,
        body_required=True,
        ok=OneFollowup,
        errors={
            404: "no such follow-up",
            409: "the entry is closed",
            **DB,
        },
    )
    async def set_result(self, request: web.Request, body: ResultIn) -> OneFollowup:
        desk = self._desk()
        who = principal(request)
        fid = int(request.match_info["id"])
        done = await self._answer(
            desk.set_result(fid, Result(body.result), self.deps.now(), who.actor, who.agent_id)
        )
        attempts = await self._answer(asyncio.to_thread(desk.store.attempts, fid))
        self.log(request, "followup_result", who.agent_id, followup=fid, result=body.result)
        return OneFollowup(
            followup=Followup.of(done), attempts=[AttemptJson.of(a) for a in attempts]
        )
