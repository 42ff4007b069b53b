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

from aiohttp import web

from callcenter.web.auth import SessionStore, auth_middleware, public
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.errors import MAX_BODY_BYTES, error_middleware, json_response
from callcenter.web.incidents import PREFIX, IncidentRoutes
from callcenter.web.live import LIVE_HUB, LiveHub
from callcenter.web.openapi import openapi
from callcenter.web.pages import PageRoutes
from callcenter.web.pbx import LIVE_PATH, PbxRoutes, unavailable_routes
from callcenter.web.views import TICKING, SnapshotMaker


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
        app.router.add_routes(unavailable_routes())
    return app


def _add_pbx(app: web.Application, deps: ApiDeps, pbx: PbxDeps, sessions: SessionStore) -> None:
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
