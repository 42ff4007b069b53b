"""The agents: read their state; log in and out of queues, pause and resume, and, on
their calls, park, pick up and transfer. Acting on an agent is for that agent itself,
or for supervisors and admins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter.agents.record import activity_by_agent
from callcenter.calls import Transfer as PendingTransfer
from callcenter.web.agents.models import (
    MAX_ACTIVITY_DAYS,
    Activity,
    ActivityQuery,
    Agent,
    Agents,
    Joined,
    Left,
    OneAgent,
    OneTransfer,
    ParkIn,
    PauseIn,
    PickupIn,
    QueuesIn,
    ResumeIn,
    Transfer,
    TransferIn,
)
from callcenter.web.api import PREFIX, Endpoint, endpoint
from callcenter.web.auth import principal
from callcenter.web.calls.models import OneParked
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.errors import ApiError, invalid
from callcenter.web.live import LiveHub
from callcenter.web.pbxside import ACT, AGENT_ID, PBX_REFUSED, UNAVAILABLE, PbxArea, answer
from callcenter.web.views import agent_view, parked_dict

log = structlog.get_logger("callcenter.web")

_A = f"{PREFIX}/agents/{{id}}"
_ACTIVITY = (
    "Per agent and local day (service time zone): time logged in, paused by reason, "
    "talking and in wrap-up, occupancy, and the intervals; from the recorded activity "
    "(docs/decisions/0012-agent-activity.md). Today counts up to now."
)
_H = TypeVar("_H", bound=Callable[..., Awaitable[Any]])


def _acting(
    summary: str, verb: str, conflict: str, description: str = "", **spec: Any
) -> Callable[[_H], _H]:
    """An action on one agent."""
    return endpoint(
        "POST",
        f"{_A}/{verb}",
        summary=summary,
        tag="agents",
        description=f"{ACT} {description}".strip(),
        params=(AGENT_ID,),
        errors={
            403: "an agent acting on another agent",
            404: "no such agent",
            409: conflict,
            502: PBX_REFUSED,
            **UNAVAILABLE,
        },
        **spec,
    )


def _iso(day: date) -> str:
    return day.isoformat()


def _transfer(t: PendingTransfer) -> OneTransfer:
    return OneTransfer(
        transfer=Transfer.model_validate(
            {"kind": t.kind, "agent_id": t.agent_id, "target": t.target, "context": t.context}
        )
    )


class AgentRoutes(PbxArea):
    """Pending attended transfers are kept here, per agent, until completed (or replaced
    by the agent's next one)."""

    def __init__(self, deps: ApiDeps, pbx: PbxDeps, hub: LiveHub | None = None) -> None:
        super().__init__(deps, pbx, hub)
        self.pending: dict[str, PendingTransfer] = {}

    def prepare(self, request: web.Request, ep: Endpoint) -> None:
        """The agent in the path first: an unknown one is a 404 whatever the body says."""
        if AGENT_ID in ep.params:
            self.agent_id(request, acting=ep.method != "GET")

    def _agent(self, agent_id: str) -> Agent:
        return Agent.model_validate(agent_view(self.scene(), self.agents[agent_id]))

    # -- reading -----------------------------------------------------------------------

    @endpoint(
        "GET",
        f"{PREFIX}/agents",
        summary="Every configured agent and its state",
        tag="agents",
        ok=Agents,
        errors=UNAVAILABLE,
    )
    async def list_agents(self, request: web.Request) -> Agents:
        scene = self.scene()
        return Agents.model_validate(
            {"agents": [agent_view(scene, a) for a in self.agents.values()]}
        )

    @endpoint(
        "GET",
        _A,
        summary="One agent",
        tag="agents",
        params=(AGENT_ID,),
        ok=OneAgent,
        errors={404: "no such agent", **UNAVAILABLE},
    )
    async def get_agent(self, request: web.Request) -> OneAgent:
        return OneAgent(agent=self._agent(self.agent_id(request, acting=False)))

    # -- activity ----------------------------------------------------------------------

    @endpoint(
        "GET",
        f"{_A}/activity",
        summary="One agent's activity for the local days [from, to)",
        tag="agents",
        description=f"{_ACTIVITY} An agent token reads only its own agent's.",
        params=(AGENT_ID,),
        query=ActivityQuery,
        ok=Activity,
        errors={
            403: "an agent reading another agent's activity",
            404: "no such agent",
            422: "to not after from, or more than 366 days",
            503: "the database is not available",
        },
    )
    async def agent_activity(self, request: web.Request, query: ActivityQuery) -> Activity:
        agent_id = self.agent_id(request, acting=True)
        return await self._activity(query, agent_id)

    @endpoint(
        "GET",
        f"{PREFIX}/activity",
        summary="Every agent's activity for the local days [from, to)",
        tag="agents",
        description=f"{_ACTIVITY} Supervisors and admins see every agent; an agent token "
        "sees its own agent only.",
        query=ActivityQuery,
        ok=Activity,
        errors={
            422: "to not after from, or more than 366 days",
            503: "the database is not available",
        },
    )
    async def all_activity(self, request: web.Request, query: ActivityQuery) -> Activity:
        who = principal(request)
        # Staff see every agent; an agent token its own agent only.
        return await self._activity(query, None if who.is_staff else (who.agent_id or ""))

    async def _activity(self, query: ActivityQuery, agent_id: str | None) -> Activity:
        day_from, day_to = query.from_, query.to
        if day_to <= day_from:
            raise invalid("to", "must be after from (the period is [from, to))")
        if (day_to - day_from).days > MAX_ACTIVITY_DAYS:
            raise invalid("to", f"at most {MAX_ACTIVITY_DAYS} days after from")
        engine = self.pbx.engine
        if engine is None:
            raise ApiError(503, "the activity needs the database", code="unavailable")
        cfg = self.pbx.cfg
        try:
            days = await asyncio.to_thread(
                activity_by_agent,
                engine,
                cfg.server.id,
                ZoneInfo(cfg.service.timezone),
                day_from,
                day_to,
                wrapup={q.name: float(q.wrapuptime) for q in cfg.queues},
                agent=agent_id,
            )
        except SQLAlchemyError as exc:
            log.warning("api.activity_failed", error=type(exc).__name__)
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        return Activity.model_validate(
            {
                "from": _iso(day_from),
                "to": _iso(day_to),
                "agent": agent_id,
                "days": [d.to_dict() for d in days],
            }
        )

    # -- queues and pauses -------------------------------------------------------------

    @_acting(
        "Log in to queues (unpaused); already a member is no error",
        "login",
        "not used",
        "The agent's state follows in a moment (the PBX's events).",
        body=QueuesIn,
        ok=Joined,
    )
    async def login(self, request: web.Request, body: QueuesIn) -> Joined:
        agent_id = self.agent_id(request, acting=True)
        queues = self._queue_names(body)
        joined = await answer(self.pbx.agents.login(agent_id, queues), queue_field="queues")
        self.log(request, "login", agent_id, queues=list(joined))
        return Joined(joined=list(joined), agent=self._agent(agent_id))

    @_acting(
        "Log out of queues",
        "logout",
        "queues named: not logged in there, or a permanent (queues.conf) member",
        body=QueuesIn,
        ok=Left,
    )
    async def logout(self, request: web.Request, body: QueuesIn) -> Left:
        agent_id = self.agent_id(request, acting=True)
        queues = self._queue_names(body)
        left = await answer(self.pbx.agents.logout(agent_id, queues), queue_field="queues")
        self.log(request, "logout", agent_id, queues=list(left))
        return Left(left=list(left), agent=self._agent(agent_id))

    @_acting(
        "Pause with a reason, in every queue or in one",
        "pause",
        "not logged in (to that queue)",
        body=PauseIn,
        body_required=True,
        ok=OneAgent,
    )
    async def pause(self, request: web.Request, body: PauseIn) -> OneAgent:
        agent_id = self.agent_id(request, acting=True)
        queue = self.known_queue("queue", body.queue)
        # The service checks the reason's bytes and characters (what Asterisk keeps).
        await answer(self.pbx.agents.pause(agent_id, body.reason, queue=queue))
        self.log(request, "pause", agent_id, queue=queue)
        return OneAgent(agent=self._agent(agent_id))

    @_acting(
        "End the pause, in every queue or in one",
        "resume",
        "not logged in (to that queue)",
        body=ResumeIn,
        ok=OneAgent,
    )
    async def resume(self, request: web.Request, body: ResumeIn) -> OneAgent:
        agent_id = self.agent_id(request, acting=True)
        queue = self.known_queue("queue", body.queue)
        await answer(self.pbx.agents.resume(agent_id, queue=queue))
        self.log(request, "resume", agent_id, queue=queue)
        return OneAgent(agent=self._agent(agent_id))

    # -- calls -------------------------------------------------------------------------

    @_acting(
        "Park the caller the agent talks to; answers with the slot",
        "park",
        "the agent is not talking to a caller",
        "Past the timeout (default: the lot's) the call rings the agent back.",
        body=ParkIn,
        ok=OneParked,
    )
    async def park(self, request: web.Request, body: ParkIn) -> OneParked:
        agent_id = self.agent_id(request, acting=True)
        parked = await answer(self.pbx.calls.park(agent_id, timeout_seconds=body.timeout_seconds))
        self.log(request, "park", agent_id, slot=parked.slot)
        return OneParked.model_validate({"parked": parked_dict(parked, time.time())})

    @_acting(
        "Ring the agent's phone; answered, it takes the call parked in the slot",
        "pickup",
        "the agent's phone is already on a call",
        "404 also for an empty slot.",
        body=PickupIn,
        body_required=True,
        ok=OneParked,
    )
    async def pickup(self, request: web.Request, body: PickupIn) -> OneParked:
        agent_id = self.agent_id(request, acting=True)
        parked = await answer(self.pbx.calls.pickup(agent_id, body.slot))
        self.log(request, "pickup", agent_id, slot=body.slot)
        return OneParked.model_validate({"parked": parked_dict(parked, time.time())})

    @_acting(
        "Transfer the agent's caller, blind or attended",
        "transfer",
        "the agent is not talking to a caller",
        "Attended: the caller waits while the agent's phone calls the target; "
        "POST .../transfer/complete joins them (or the agent hangs up).",
        body=TransferIn,
        body_required=True,
        ok=OneTransfer,
    )
    async def transfer(self, request: web.Request, body: TransferIn) -> OneTransfer:
        agent_id = self.agent_id(request, acting=True)
        calls = self.pbx.calls
        if body.kind == "blind":
            done = await answer(calls.blind_transfer(agent_id, body.to))
        else:
            done = await answer(calls.attended_transfer(agent_id, body.to))
            self.pending[agent_id] = done  # the agent's earlier one, if any, is over
        self.log(request, f"{body.kind}_transfer", agent_id, target=done.target)
        return _transfer(done)

    @_acting(
        "Complete the agent's pending attended transfer",
        "transfer/complete",
        "no attended transfer pending, or the agent's leg is gone",
        ok=OneTransfer,
    )
    async def complete_transfer(self, request: web.Request) -> OneTransfer:
        agent_id = self.agent_id(request, acting=True)
        pending = self.pending.get(agent_id)
        if pending is None:
            raise ApiError(409, f"agent {agent_id!r} has no attended transfer to complete")
        try:
            await answer(self.pbx.calls.complete_transfer(pending))
        except ApiError as err:
            if err.status == 409:  # its leg is gone: the agent hung up, which completed it
                self.pending.pop(agent_id, None)
            raise
        if self.pending.get(agent_id) is pending:
            del self.pending[agent_id]
        self.log(request, "transfer_completed", agent_id, target=pending.target)
        return _transfer(pending)

    def _queue_names(self, body: QueuesIn) -> list[str] | None:
        if body.queues is None:
            return None
        names = [body.queues] if isinstance(body.queues, str) else body.queues
        for q in names:
            self.known_queue("queues", q)
        return list(dict.fromkeys(names))
