"""The HTTP API as one aiohttp application, for the daemon to run (``make_app``).

Middlewares, outermost first: errors (every failure as JSON), then bearer-token auth
(handlers marked ``public`` authenticate otherwise). Routes live in one module per
area, each a class bound to ``ApiDeps``; a new area adds its deps here and its routes
and OpenAPI paths next to the incident ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from callcenter.agents import AgentService
from callcenter.calls import CallControl
from callcenter.config import Config
from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics import CallFigures
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.store.incidents import IncidentStore
from callcenter.telephony.live import LiveState
from callcenter.web.auth import TokenStore, auth_middleware, public
from callcenter.web.errors import MAX_BODY_BYTES, error_middleware, json_response
from callcenter.web.incidents import PREFIX, IncidentRoutes
from callcenter.web.openapi import openapi


@dataclass(frozen=True)
class PbxDeps:
    """The daemon's live PBX side, for the queue, agent, call, parking, metrics and
    service-mode routes (None in tests that only exercise incidents)."""

    cfg: Config
    live: LiveState
    agents: AgentService
    calls: CallControl
    # Today so far (service time zone), all queues (None) or one.
    today_figures: Callable[[str | None], CallFigures]
    service_mode: ModeKeeper | None  # None when the daemon does not manage the mode


@dataclass(frozen=True)
class ApiDeps:
    """What the API works on. More will come (queues, agents, calls, service mode)."""

    incidents: IncidentStore
    tokens: TokenStore
    calendar: BusinessCalendar
    targets: IncidentTargets = field(default_factory=IncidentTargets)
    # The shared secret of the second line's signed answers; "" turns the endpoint off.
    second_line_secret: str = field(default="", repr=False)
    # None: the real time. Tests pass a settable clock; every action's time comes from it.
    clock: Callable[[], datetime] | None = None
    pbx: PbxDeps | None = None

    def now(self) -> datetime:
        """Now, in UTC: the store keeps UTC, and on SQLite a time in another zone would be
        stored as its wall time and read back as UTC."""
        at = self.clock() if self.clock is not None else datetime.now(UTC)
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("ApiDeps.clock must return aware datetimes")
        return at.astimezone(UTC)


def make_app(deps: ApiDeps) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(deps.tokens)],
        client_max_size=MAX_BODY_BYTES,
    )
    description = openapi()

    @public
    async def openapi_json(_request: web.Request) -> web.Response:
        return json_response(description)

    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
    app.router.add_routes(IncidentRoutes(deps).routes())
    return app
