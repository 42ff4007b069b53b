"""The HTTP API as one aiohttp application, for the daemon to run (``make_app``).

Middlewares, outermost first: errors (every failure as JSON), then bearer-token auth
(handlers marked ``public`` authenticate otherwise). Each API area is a subpackage with
its routes and models (incidents, queues, agents, calls, figures, service_mode); the
routes come from their declarations (``callcenter.web.api``), as does the OpenAPI.

With ``ApiDeps.pbx`` the application also serves the PBX areas and the live websocket;
its ``LiveHub`` is ``app[LIVE_HUB]``, for the daemon to call ``notify()`` after each AMI
event and ``publish_incident()`` for each opened incident. Without it the same routes
answer 503 (one API shape, one OpenAPI description).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.web.api.endpoint import endpoints_of, routes_of, unavailable
from callcenter.web.audit.routes import AuditRoutes, audit_middleware
from callcenter.web.auth import DbSessionStore, SessionStore, auth_middleware
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.errors import MAX_BODY_BYTES, error_middleware
from callcenter.web.incidents import IncidentRoutes, SecondLineRoutes
from callcenter.web.live import LIVE_HUB, LiveHub
from callcenter.web.live_cluster import ClusterLive
from callcenter.web.live_merge import raw_of
from callcenter.web.live_route import LiveRoutes
from callcenter.web.openapi import PBX_AREAS, MetaRoutes
from callcenter.web.pages import PageRoutes
from callcenter.web.pbxside import NO_PBX
from callcenter.web.views import TICKING, SnapshotMaker


def make_app(deps: ApiDeps) -> web.Application:
    # The pages' login sessions: the middleware takes their cookie as it takes a token.
    # In the database: a restart, or another daemon on it, keeps the pages logged in.
    sessions = DbSessionStore(deps.tokens.engine)
    middlewares = [error_middleware, auth_middleware(deps.tokens, sessions)]
    if deps.audit is not None:
        # Outermost: it records each change with the status it finally got.
        middlewares.insert(0, audit_middleware(deps.audit, deps.now))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    for area in (MetaRoutes(), IncidentRoutes(deps), SecondLineRoutes(deps), AuditRoutes(deps)):
        app.router.add_routes(routes_of(area))
    app.router.add_routes(PageRoutes(deps, sessions).routes())  # wallboard, console, login
    if deps.pbx is not None:
        _add_pbx(app, deps, deps.pbx, sessions)
    else:
        for cls in (*PBX_AREAS, LiveRoutes):
            app.router.add_routes(unavailable(endpoints_of(cls), NO_PBX))
    return app


def _add_pbx(app: web.Application, deps: ApiDeps, pbx: PbxDeps, sessions: SessionStore) -> None:
    # No coalescing delay: one AMI read already brings a burst, and the flush runs on the
    # loop's next turn after it. bench/live: p99 23 ms against 45 ms with 20 ms, for ~2%
    # more CPU (docs/decisions/0008).
    maker = SnapshotMaker(pbx)
    cluster = cluster_live(pbx, maker)
    hub = LiveHub(
        cluster or maker,
        tokens=deps.tokens,
        sessions=sessions,
        ticking=TICKING,
        coalesce_seconds=0.0,
    )
    app[LIVE_HUB] = hub
    if cluster is not None:
        cluster.on_remote = hub.notify
        app[LIVE_CLUSTER] = cluster
    for cls in PBX_AREAS:
        app.router.add_routes(routes_of(cls(deps, pbx, hub)))
    app.router.add_routes(routes_of(LiveRoutes(hub)))

    async def close_hub(_app: web.Application) -> None:
        await hub.close()  # before the server waits for its handlers: sockets end now

    app.on_shutdown.append(close_hub)


LIVE_CLUSTER = web.AppKey("live_cluster", ClusterLive)


def cluster_live(pbx: PbxDeps, maker: SnapshotMaker) -> ClusterLive | None:
    """The other servers' live state, shared through PostgreSQL ([cluster] live)."""
    engine = pbx.engine
    if engine is None or engine.dialect.name != "postgresql" or not pbx.cfg.cluster.live:
        return None

    def raw_today() -> dict[str, Any]:
        return {
            "all": raw_of(pbx.today_figures(None)),
            "by_queue": {q.name: raw_of(pbx.today_figures(q.name)) for q in pbx.cfg.queues},
        }

    return ClusterLive(
        engine, pbx.cfg.server.id, pbx.cfg.cluster, pbx.cfg.metrics, maker, raw_today,
        ticking=TICKING,
    )  # fmt: skip


def live_cluster(app: web.Application) -> ClusterLive | None:
    return app.get(LIVE_CLUSTER)


def live_hub(app: web.Application) -> LiveHub | None:
    """The application's hub (None without PBX deps)."""
    return app.get(LIVE_HUB)
