"""The HTTP API in front of a daemon: ``serve(daemon)`` attaches it, and it starts and
stops with the daemon. The web layer sits above the daemon: it reads the daemon's parts
to build ``ApiDeps``; the daemon only tells it what changed (``callcenter.front``)."""

from __future__ import annotations

import asyncio
import contextlib
import os

import structlog
from aiohttp import web

from callcenter.config import ConfigError
from callcenter.daemon import Daemon
from callcenter.incidents.figures import IncidentTargets
from callcenter.incidents.model import Incident
from callcenter.incidents.serialize import incident_dict
from callcenter.store.audit import AuditLog
from callcenter.web.access import ACCESS_LOGGER, AccessLog
from callcenter.web.app import live_cluster, live_hub, make_app
from callcenter.web.auth import TokenStore
from callcenter.web.deps import ApiDeps, PbxDeps
from callcenter.web.live import LiveHub
from callcenter.web.live_cluster import ClusterLive
from callcenter.web.watch import LoopLag, WatchRoutes

log = structlog.get_logger("callcenter.web")


def pbx_deps(daemon: Daemon) -> PbxDeps:
    return PbxDeps(
        cfg=daemon.cfg,
        live=daemon.live,
        agents=daemon.agents,
        calls=daemon.calls,
        today_figures=daemon.today_figures,
        service_mode=daemon.service_mode,
        open_calls=lambda: daemon.tracker.calls,
        engine=daemon.engine,
        today_coverage=lambda: daemon.coverage.today,
        followups=daemon.followups,
    )


def api_deps(daemon: Daemon, tokens: TokenStore) -> ApiDeps:
    cfg = daemon.cfg
    t = cfg.incidents
    return ApiDeps(
        incidents=daemon.incident_store,
        tokens=tokens,
        calendar=daemon.calendar,
        targets=IncidentTargets.from_config(t),
        second_line_secret=os.environ.get(t.second_line_secret_env, ""),
        trusted_proxies=cfg.http.trusted_proxies,
        audit=AuditLog(daemon.engine, cfg.server.id),
        pbx=pbx_deps(daemon),
    )


class HttpFront:
    """The API's listener and its live hub, for one daemon."""

    name = "http"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.tokens = TokenStore(daemon.engine)
        self.port: int | None = None  # once it listens
        self.hub: LiveHub | None = None  # the live websocket's pushes
        self.cluster: ClusterLive | None = None  # the other servers' live state
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self.lag = LoopLag()

    async def start(self) -> None:
        http = self.daemon.cfg.http
        app = make_app(api_deps(self.daemon, self.tokens))
        self.hub = live_hub(app)
        self.cluster = live_cluster(app)
        if self.cluster is not None:
            sup = self.daemon.supervisor
            c = self.cluster
            self._tasks = [
                sup.start("cluster-publish", c.publish_loop),
                sup.start("cluster-listen", c.listen_loop),
                sup.start("cluster-read", c.read_loop),
            ]
        # /healthz, /readyz and /metrics for the site's monitoring.
        self.lag.start()
        app.router.add_routes(
            WatchRoutes(self.daemon, pbx_deps(self.daemon), self.tokens, self.lag).routes()
        )
        runner = web.AppRunner(app, access_log_class=AccessLog, access_log=ACCESS_LOGGER)
        await runner.setup()
        site = web.TCPSite(runner, http.host, http.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{http.host}:{http.port}"
            raise ConfigError([f"http.port: cannot listen on {where}: {exc.strerror}"]) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("http.listening", address=f"{http.host}:{self.port}")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
        await self.lag.stop()

    def changed(self) -> None:
        if self.cluster is not None:
            self.cluster.changed()  # the other daemons' wallboards: published
        if self.hub is not None:
            self.hub.notify()  # wallboards and consoles: pushed once the burst is over

    def incident_opened(self, incident: Incident) -> None:
        # The agent's console pops the new incident up (the hub hands it to the loop).
        if self.hub is not None:
            self.hub.publish_incident(incident_dict(incident))


def serve(daemon: Daemon) -> Daemon:
    """``daemon`` with its HTTP API attached (when ``[http] enabled``)."""
    if daemon.cfg.http.enabled:
        daemon.attach(HttpFront(daemon))
    return daemon


def http_of(daemon: Daemon) -> HttpFront:
    """The daemon's HTTP front (tests and the command line ask for its port)."""
    for front in daemon.fronts:
        if isinstance(front, HttpFront):
            return front
    raise LookupError("this daemon serves no HTTP API")
