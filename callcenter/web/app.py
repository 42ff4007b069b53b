"""The HTTP API as one aiohttp application, for the daemon to run (``make_app``).

Middlewares, outermost first: errors (every failure as JSON), then bearer-token auth
(handlers marked ``public`` authenticate otherwise). Routes live in one module per
area, each a class bound to ``ApiDeps``; a new area adds its deps here and its routes
and OpenAPI paths next to the incident ones.

With ``ApiDeps.pbx`` the application also serves the PBX routes (``callcenter.web.pbx``)
and the live websocket; its ``LiveHub`` is ``app[LIVE_HUB]``, for the daemon to call
``notify()`` after each AMI event and ``publish_incident()`` for each opened incident.
Without it the same routes answer 503 (one API shape, one OpenAPI description).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Engine

from callcenter.agents import AgentService
from callcenter.calls import CallControl
from callcenter.config import Config
from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics import CallFigures
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.store.incidents import IncidentStore
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.live import LiveState
from callcenter.web.auth import SessionStore, TokenStore, auth_middleware, public
from callcenter.web.errors import MAX_BODY_BYTES, error_middleware, json_response
from callcenter.web.incidents import PREFIX, IncidentRoutes
from callcenter.web.live import LIVE_HUB, LiveHub
from callcenter.web.openapi import openapi
from callcenter.web.pages import PageRoutes


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
    # The calls in progress as the call tracker has them, by Linkedid (queue, arrival,
    # queue join and answer times). None: the views fall back on what the live state
    # alone tells (wait times from the channel's creation, no queue for /calls).
    open_calls: Callable[[], Mapping[str, CallRecord]] | None = None
    # For the figures of past days (GET /metrics); None answers 503 there.
    engine: Engine | None = None
    # Today's coverage as the daemon last measured it (coverage.CoverageKeeper.today).
    today_coverage: Callable[[], dict[str, Any] | None] | None = None


@dataclass(frozen=True)
class ApiDeps:
    """What the API works on. More will come (queues, agents, calls, service mode)."""

    incidents: IncidentStore
    tokens: TokenStore
    calendar: BusinessCalendar
    targets: IncidentTargets = field(default_factory=IncidentTargets)
    # The shared secret of the second line's signed answers; "" turns the endpoint off.
    second_line_secret: str = field(default="", repr=False)
    # The TLS proxies in front ([http] trusted_proxies): their X-Forwarded-Proto counts.
    trusted_proxies: tuple[str, ...] = ()
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
    # The pages' login sessions: the middleware takes their cookie as it takes a token.
    sessions = SessionStore()
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(deps.tokens, sessions)],
        client_max_size=MAX_BODY_BYTES,
    )
    description = openapi()

    @public
    async def openapi_json(_request: web.Request) -> web.Response:
        return json_response(description)

    app.router.add_get(f"{PREFIX}/openapi.json", openapi_json)
    app.router.add_routes(IncidentRoutes(deps).routes())
    app.router.add_routes(PageRoutes(deps, sessions).routes())  # wallboard, console, login
    if deps.pbx is not None:
        _add_pbx(app, deps, deps.pbx, sessions)
    else:
        from callcenter.web.pbx import unavailable_routes

        app.router.add_routes(unavailable_routes())
    return app


def _add_pbx(app: web.Application, deps: ApiDeps, pbx: PbxDeps, sessions: SessionStore) -> None:
    # Imported here: callcenter.web.pbx imports PbxDeps from this module.
    from callcenter.web.pbx import LIVE_PATH, PbxRoutes
    from callcenter.web.views import TICKING, SnapshotMaker

    # No coalescing delay: one AMI read already brings a burst, and the flush runs on the
    # loop's next turn after it. bench/live: p99 23 ms against 45 ms with 20 ms, for ~2%
    # more CPU (docs/decisions/0008).
    hub = LiveHub(
        SnapshotMaker(pbx),
        tokens=deps.tokens,
        sessions=sessions,
        ticking=TICKING,
        coalesce_seconds=0.0,
    )
    app[LIVE_HUB] = hub
    app.router.add_routes(PbxRoutes(deps, pbx, hub).routes())
    app.router.add_get(LIVE_PATH, hub.handler)

    async def close_hub(_app: web.Application) -> None:
        await hub.close()  # before the server waits for its handlers: sockets end now

    app.on_shutdown.append(close_hub)


def live_hub(app: web.Application) -> LiveHub | None:
    """The application's hub (None without PBX deps)."""
    return app.get(LIVE_HUB)
