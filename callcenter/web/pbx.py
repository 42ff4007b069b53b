"""The PBX endpoints: queues, agents (log in/out, pause), calls, parking, transfers,
call figures and the service mode.

Anyone with a token may read. Acting on an agent (``/agents/{id}/...``) is for that
agent itself, or for supervisors and admins; the service mode and past figures are for
supervisors and admins. The work is done by the daemon's services (``AgentService``,
``CallControl``, ``ModeKeeper``); this module checks who asks and what was sent, and
turns the services' refusals into HTTP answers:

  unknown agent / slot 404; not logged in, static member, not on a call, busy,
  no transfer pending 409; bad reason / destination / queue 422 naming the field;
  the PBX refused or did not answer 502 with its reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import date
from typing import Any, TypeVar

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from callcenter import agents as agent_errors
from callcenter import calls as call_errors
from callcenter.ami import AMIError, AMIInjectionError
from callcenter.calls import Transfer
from callcenter.metrics import GROUPINGS, combine, query_figures, query_figures_by
from callcenter.metrics.report import grouped_json
from callcenter.schedule.mode import MODES, NOTE_MAX, ModeKeeper
from callcenter.web.auth import STAFF, Principal, principal, require_role
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.errors import ApiError, invalid, json_response
from callcenter.web.incidents import PREFIX
from callcenter.web.live import LiveHub
from callcenter.web.validation import Body, Query, json_object
from callcenter.web.views import (
    Scene,
    agent_view,
    calls_view,
    figures_dict,
    mode_view,
    parked_dict,
    parked_view,
    queue_view,
    today_view,
)

log = structlog.get_logger("callcenter.web")

_T = TypeVar("_T")

AGENT = r"{id:[A-Za-z0-9_.@+-]{1,40}}"
QUEUE = r"{name:[A-Za-z0-9_.-]{1,64}}"
TRANSFER_KINDS = ("blind", "attended")
PARK_TIMEOUT_MAX = 3600  # an hour in a slot is a forgotten call, not a hold
METRICS_PARAMS = ("from", "to", "queue", "by", "server")
SET_MODE_FIELDS = ("mode", "until", "note")
LIVE_PATH = f"{PREFIX}/live"

_A = f"{PREFIX}/agents/{AGENT}"
# (method, path, handler): one table, so a server without a PBX can serve the same
# routes (each answering 503) and the OpenAPI description fits both.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", f"{PREFIX}/queues", "list_queues"),
    ("GET", f"{PREFIX}/queues/{QUEUE}", "get_queue"),
    ("GET", f"{PREFIX}/agents", "list_agents"),
    ("GET", _A, "get_agent"),
    ("POST", f"{_A}/login", "login"),
    ("POST", f"{_A}/logout", "logout"),
    ("POST", f"{_A}/pause", "pause"),
    ("POST", f"{_A}/resume", "resume"),
    ("POST", f"{_A}/park", "park"),
    ("POST", f"{_A}/pickup", "pickup"),
    ("POST", f"{_A}/transfer", "transfer"),
    ("POST", f"{_A}/transfer/complete", "complete_transfer"),
    ("GET", f"{PREFIX}/calls", "list_calls"),
    ("GET", f"{PREFIX}/parked", "list_parked"),
    ("GET", f"{PREFIX}/transfer-targets", "transfer_targets"),
    ("GET", f"{PREFIX}/metrics/today", "metrics_today"),
    ("GET", f"{PREFIX}/metrics", "metrics"),
    ("GET", f"{PREFIX}/service-mode", "get_mode"),
    ("PUT", f"{PREFIX}/service-mode", "set_mode"),
    ("DELETE", f"{PREFIX}/service-mode/override", "clear_override"),
)


async def no_pbx(_request: web.Request) -> web.StreamResponse:
    """Every PBX route of a server that has no PBX side (an incidents-only API)."""
    raise ApiError(503, "this server has no PBX connection", code="unavailable")


def unavailable_routes() -> list[web.RouteDef]:
    return [web.route(m, path, no_pbx) for m, path, _ in ROUTES] + [web.get(LIVE_PATH, no_pbx)]


def pbx_refused(exc: agent_errors.PBXError | call_errors.PBXError) -> ApiError:
    # The message names the action, the agent and the PBX's own reason (never a secret:
    # the AMI client's errors do not carry it).
    return ApiError(502, str(exc), code="pbx_error")


async def answer(work: Awaitable[_T], *, queue_field: str = "queue") -> _T:
    """Await a service call; its refusals become the HTTP answers they mean."""
    try:
        return await work
    except (agent_errors.UnknownAgentError, call_errors.UnknownAgentError) as exc:
        raise ApiError(404, str(exc)) from None
    except call_errors.UnknownSlotError as exc:
        raise ApiError(404, str(exc)) from None
    except agent_errors.UnknownQueueError as exc:
        raise invalid(queue_field, str(exc)) from None
    except agent_errors.InvalidReasonError as exc:
        raise invalid("reason", str(exc)) from None
    except call_errors.InvalidDestinationError as exc:
        raise invalid("to", str(exc)) from None
    except (agent_errors.PBXError, call_errors.PBXError) as exc:
        raise pbx_refused(exc) from None
    except (
        agent_errors.NotInQueueError,
        agent_errors.StaticMemberError,
        call_errors.NotOnCallError,
        call_errors.AgentBusyError,
    ) as exc:
        raise ApiError(409, str(exc)) from None


def transfer_dict(t: Transfer) -> dict[str, Any]:
    return {"kind": t.kind, "agent_id": t.agent_id, "target": t.target, "context": t.context}


class PbxRoutes:
    """The handlers, bound to the daemon's PBX side; pending attended transfers are
    kept here, per agent, until completed (or replaced by the agent's next one)."""

    def __init__(self, deps: ApiDeps, pbx: PbxDeps, hub: LiveHub | None = None) -> None:
        self.deps = deps
        self.pbx = pbx
        self.hub = hub
        self.agents = {a.id: a for a in pbx.cfg.agents}
        self.queues = {q.name: q for q in pbx.cfg.queues}
        self.pending: dict[str, Transfer] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.route(method, path, getattr(self, name)) for method, path, name in ROUTES]

    # -- helpers ---------------------------------------------------------------------------

    def _scene(self) -> Scene:
        return Scene.of(self.pbx, time.time())

    def _agent_id(self, request: web.Request, *, acting: bool) -> str:
        """The agent in the path; acting on it needs to be it, or staff."""
        agent_id = request.match_info["id"]
        if acting:
            who = principal(request)
            if not who.may_act_on(agent_id):
                raise ApiError(403, "agents act only on themselves and their own calls")
        if agent_id not in self.agents:
            raise ApiError(404, f"unknown agent {agent_id!r}")
        return agent_id

    def _queue_names(self, body: Body, name: str) -> list[str] | None:
        value = body.data.get(name)
        if value is None:
            if name in body:
                raise invalid(name, "must not be null")
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
            raise invalid(name, "a non-empty array of queue names is needed")
        for q in value:
            if q not in self.queues:
                raise invalid(name, f"unknown queue {q!r} (known: {', '.join(self.queues)})")
        return list(dict.fromkeys(value))

    def _queue(self, body: Body) -> str | None:
        name = body.text("queue", max_length=64)
        if name is not None and name not in self.queues:
            raise invalid("queue", f"unknown queue {name!r} (known: {', '.join(self.queues)})")
        return name

    def _agent_answer(self, agent_id: str, **extra: Any) -> web.Response:
        return json_response({**extra, "agent": agent_view(self._scene(), self.agents[agent_id])})

    def _changed(self) -> None:
        if self.hub is not None:
            self.hub.notify()

    # -- reading ---------------------------------------------------------------------------

    async def list_queues(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        scene = self._scene()
        return json_response({"queues": [queue_view(scene, q) for q in self.queues]})

    async def get_queue(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        name = request.match_info["name"]
        if name not in self.queues:
            raise ApiError(404, f"unknown queue {name!r}")
        return json_response({"queue": queue_view(self._scene(), name)})

    async def list_agents(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        scene = self._scene()
        return json_response({"agents": [agent_view(scene, a) for a in self.agents.values()]})

    async def get_agent(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        agent_id = self._agent_id(request, acting=False)
        return self._agent_answer(agent_id)

    async def list_calls(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        now = time.time()
        return json_response({"calls": calls_view(self.pbx, now)})

    async def list_parked(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        return json_response({"parked": parked_view(self.pbx, time.time())})

    async def transfer_targets(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        targets = [
            {"name": t.name, "number": t.number, "label": t.label or t.name}
            for t in self.pbx.cfg.transfer_targets
        ]
        return json_response({"targets": targets})

    # -- agents ----------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        body = Body(await json_object(request), ("queues",))
        queues = self._queue_names(body, "queues")
        joined = await answer(self.pbx.agents.login(agent_id, queues), queue_field="queues")
        self._log(request, "login", agent_id, queues=list(joined))
        return self._agent_answer(agent_id, joined=list(joined))

    async def logout(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        body = Body(await json_object(request), ("queues",))
        queues = self._queue_names(body, "queues")
        left = await answer(self.pbx.agents.logout(agent_id, queues), queue_field="queues")
        self._log(request, "logout", agent_id, queues=list(left))
        return self._agent_answer(agent_id, left=list(left))

    async def pause(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        body = Body(await json_object(request), ("reason", "queue"))
        # The service checks the reason's bytes and characters (what Asterisk keeps).
        reason = body.text("reason", required=True, max_length=200, blank=True, one_line=True)
        assert reason is not None
        queue = self._queue(body)
        await answer(self.pbx.agents.pause(agent_id, reason, queue=queue))
        self._log(request, "pause", agent_id, queue=queue)
        return self._agent_answer(agent_id)

    async def resume(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        queue = self._queue(Body(await json_object(request), ("queue",)))
        await answer(self.pbx.agents.resume(agent_id, queue=queue))
        self._log(request, "resume", agent_id, queue=queue)
        return self._agent_answer(agent_id)

    # -- calls -----------------------------------------------------------------------------

    async def park(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        body = Body(await json_object(request), ("timeout_seconds",))
        timeout = body.integer("timeout_seconds", minimum=1)
        if timeout is not None and timeout > PARK_TIMEOUT_MAX:
            raise invalid("timeout_seconds", f"at most {PARK_TIMEOUT_MAX} (got {timeout})")
        parked = await answer(self.pbx.calls.park(agent_id, timeout_seconds=timeout))
        self._log(request, "park", agent_id, slot=parked.slot)
        return json_response({"parked": parked_dict(parked, time.time())})

    async def pickup(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        body = Body(await json_object(request), ("slot",))
        slot = body.required_text("slot", max_length=10)
        if not (slot.isascii() and slot.isdigit()):
            raise invalid("slot", f"{slot!r} is not a parking slot (digits)")
        parked = await answer(self.pbx.calls.pickup(agent_id, slot))
        self._log(request, "pickup", agent_id, slot=slot)
        return json_response({"parked": parked_dict(parked, time.time())})

    async def transfer(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        body = Body(await json_object(request), ("kind", "to"))
        kind = body.choice("kind", TRANSFER_KINDS)
        if kind is None:
            raise invalid("kind", f"is required (one of {', '.join(TRANSFER_KINDS)})")
        to = body.required_text("to", max_length=80, one_line=True)
        calls = self.pbx.calls
        if kind == "blind":
            done = await answer(calls.blind_transfer(agent_id, to))
        else:
            done = await answer(calls.attended_transfer(agent_id, to))
            self.pending[agent_id] = done  # the agent's earlier one, if any, is over
        self._log(request, f"{kind}_transfer", agent_id, target=done.target)
        return json_response({"transfer": transfer_dict(done)})

    async def complete_transfer(self, request: web.Request) -> web.Response:
        agent_id = self._agent_id(request, acting=True)
        Body(await json_object(request), ())
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
        self._log(request, "transfer_completed", agent_id, target=pending.target)
        return json_response({"transfer": transfer_dict(pending)})

    # -- figures ---------------------------------------------------------------------------

    async def metrics_today(self, request: web.Request) -> web.Response:
        q = Query(request.query, ("queue",))
        queue = q.text("queue", max_length=64)
        if queue is None:
            return json_response(today_view(self.pbx))
        if queue not in self.queues:
            raise invalid("queue", f"unknown queue {queue!r} (known: {', '.join(self.queues)})")
        return json_response({"queue": queue, **figures_dict(self.pbx.today_figures(queue))})

    async def metrics(self, request: web.Request) -> web.Response:
        require_role(request, STAFF)
        q = Query(request.query, METRICS_PARAMS)
        day_from, day_to = self._day(q, "from"), self._day(q, "to")
        if day_to <= day_from:
            raise invalid("to", "must be after from (the period is [from, to))")
        by = [g for g in GROUPINGS if g in q.choices("by", GROUPINGS)]
        if len(by) > 1:
            raise invalid("by", "one grouping at most")
        where = {"queue": q.text("queue", max_length=64), "server_id": q.text("server")}
        engine = self.pbx.engine
        if engine is None:
            raise ApiError(503, "past figures need the database", code="unavailable")
        cfg = self.pbx.cfg.metrics
        period = {"from": day_from, "to": day_to, **where}
        try:
            if not by:
                figures = await asyncio.to_thread(
                    query_figures, engine, cfg, day_from, day_to, **where
                )
                return json_response({**period, **figures.to_dict()})
            groups = await asyncio.to_thread(
                query_figures_by, engine, cfg, by[0], day_from, day_to, **where
            )
        except SQLAlchemyError as exc:
            log.warning("api.metrics_failed", error=type(exc).__name__)
            raise ApiError(503, "the database did not answer", code="unavailable") from None
        total = combine(groups.values(), cfg)
        return json_response({**period, **grouped_json(by[0], groups, total)})

    @staticmethod
    def _day(q: Query, name: str) -> str:
        value = q.text(name, max_length=10)
        if value is None:
            raise invalid(name, "is required (YYYY-MM-DD)")
        try:
            date.fromisoformat(value)
            if len(value) != 10:
                raise ValueError(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value

    # -- the service mode ------------------------------------------------------------------

    async def get_mode(self, request: web.Request) -> web.Response:
        Query(request.query, ())
        return json_response(mode_view(self.pbx))

    def _keeper_for(self, request: web.Request) -> ModeKeeper:
        require_role(request, STAFF)
        keeper = self.pbx.service_mode
        if keeper is None:
            raise ApiError(
                409,
                "this daemon does not manage the service mode (service.manage_mode = false)",
            )
        return keeper

    async def set_mode(self, request: web.Request) -> web.Response:
        keeper = self._keeper_for(request)
        body = Body(await json_object(request), SET_MODE_FIELDS)
        mode = body.choice("mode", MODES)
        if mode is None:
            raise invalid("mode", f"is required (one of {', '.join(MODES)})")
        until = body.instant("until")
        who = principal(request)
        # The note goes into AstDB through AMI: one line, no control characters.
        note = body.text("note", max_length=NOTE_MAX, blank=True, one_line=True) or ""
        # Who did it goes with the note into AstDB, where `callcenter mode status` shows it.
        note = f"{who.actor}: {note}" if note.strip() else who.actor
        try:
            await keeper.override(mode, until, note[:NOTE_MAX])
        except AMIInjectionError:
            raise  # text of ours that AMI cannot carry, not the client's: a 500, logged
        except ValueError as exc:
            # The keeper's refusals start with the field: "mode: ...", "until: ...", "note: ...".
            field, _, message = str(exc).partition(": ")
            if field in SET_MODE_FIELDS:
                raise invalid(field, message) from None
            raise ApiError(422, str(exc)) from None  # which field, unknown: none named
        except (AMIError, OSError) as exc:
            raise ApiError(
                502, f"the PBX did not take the override: {exc}", code="pbx_error"
            ) from None
        self._log(request, "service_mode_override", None, mode=mode)
        self._changed()
        return json_response(mode_view(self.pbx))

    async def clear_override(self, request: web.Request) -> web.Response:
        keeper = self._keeper_for(request)
        Query(request.query, ())
        try:
            await keeper.clear_override()
        except (AMIError, OSError) as exc:
            raise ApiError(
                502, f"the PBX did not clear the override: {exc}", code="pbx_error"
            ) from None
        self._log(request, "service_mode_override_cleared", None)
        self._changed()
        return json_response(mode_view(self.pbx))

    # -- the log ---------------------------------------------------------------------------

    @staticmethod
    def _log(request: web.Request, action: str, agent_id: str | None, **facts: Any) -> None:
        who: Principal = principal(request)
        log.info(f"api.{action}", actor=who.actor, agent=agent_id, **facts)
