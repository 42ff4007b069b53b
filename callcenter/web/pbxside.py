"""What the PBX areas (queues, agents, calls, figures, service mode) share: the
daemon's PBX side they are bound to, who may act on an agent, and the services'
refusals as the HTTP answers they mean:

  unknown agent / slot 404; not logged in, static member, not on a call, busy,
  no transfer pending 409; bad reason / destination / queue 422 naming the field;
  the PBX refused or did not answer 502 with its reason.

A server without a PBX side serves the same routes, each answering 503.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog
from aiohttp import web

from callcenter import agents as agent_errors
from callcenter import calls as call_errors
from callcenter.web.api import PathParam
from callcenter.web.auth import principal
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.errors import ApiError, invalid
from callcenter.web.live import LiveHub
from callcenter.web.views import Scene

log = structlog.get_logger("callcenter.web")

_T = TypeVar("_T")

NO_PBX = "this server has no PBX connection"
AGENT_ID = PathParam(
    "id", r"[A-Za-z0-9_.@+-]{1,40}", {"type": "string"}, "the agent's id (e.g. agent1)"
)
QUEUE_NAME = PathParam("name", r"[A-Za-z0-9_.-]{1,64}", {"type": "string"}, "the queue's name")
ACT = (
    "The agent itself (an agent token acts only on its own agent_id), or supervisors and "
    "admins on anyone."
)
PBX_REFUSED = "the PBX refused the action or did not answer; the message gives its reason"
UNAVAILABLE = {503: NO_PBX}


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


class PbxArea:
    """An area's handlers, bound to the daemon's PBX side (and the live hub, told of
    each change so that the pages see it at once)."""

    def __init__(self, deps: ApiDeps, pbx: PbxDeps, hub: LiveHub | None = None) -> None:
        self.deps = deps
        self.pbx = pbx
        self.hub = hub
        self.agents = {a.id: a for a in pbx.cfg.agents}
        self.queues = {q.name: q for q in pbx.cfg.queues}

    def scene(self) -> Scene:
        return Scene.of(self.pbx, time.time())

    def agent_id(self, request: web.Request, *, acting: bool) -> str:
        """The agent in the path; acting on it needs to be it, or staff."""
        agent_id = request.match_info["id"]
        if acting and not principal(request).may_act_on(agent_id):
            raise ApiError(403, "agents act only on themselves and their own calls")
        if agent_id not in self.agents:
            raise ApiError(404, f"unknown agent {agent_id!r}")
        return agent_id

    def known_queue(self, field: str, name: str | None) -> str | None:
        if name is not None and name not in self.queues:
            raise invalid(field, f"unknown queue {name!r} (known: {', '.join(self.queues)})")
        return name

    def changed(self) -> None:
        if self.hub is not None:
            self.hub.notify()

    @staticmethod
    def log(request: web.Request, action: str, agent_id: str | None, **facts: Any) -> None:
        log.info(f"api.{action}", actor=principal(request).actor, agent=agent_id, **facts)
