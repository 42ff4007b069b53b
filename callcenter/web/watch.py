"""What the site's monitoring asks a daemon: is it alive (``/healthz``), is it ready to
be trusted (``/readyz``: the AMI link up and resynced, the database writable, the PBX
record read lately, no supervised task given up), and its figures for Prometheus
(``/metrics``, read at scrape time from the daemon's own counters: nothing is added to
the per-event path).

``/healthz`` and ``/readyz`` answer anyone (a load balancer's probe has no token) and
say only states and reasons. ``/metrics`` answers a loopback peer, or a bearer token of
a supervisor, admin or auditor.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from callcenter.daemon import Daemon
from callcenter.store.models import WebhookOutbox
from callcenter.web.auth import READERS, TokenStore, public
from callcenter.web.deps import PbxDeps
from callcenter.web.errors import ApiError, json_response
from callcenter.web.views import Scene, agent_view

LAG_EVERY = 0.5  # seconds between two looks at the event loop's lag
PBX_RECORD_STALE = 60.0  # seconds: a record not read for longer is not being followed


class LoopLag:
    """How late the event loop runs a timer: the daemon's responsiveness, measured."""

    def __init__(self) -> None:
        self.last = 0.0
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_EVERY)
            self.last = max(0.0, loop.time() - start - LAG_EVERY)
            self.worst = max(self.worst, self.last)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def readiness(daemon: Daemon) -> dict[str, Any]:
    """Each check with its state and, when not ok, why. Runs in a thread (a DB probe)."""
    checks: dict[str, dict[str, Any]] = {}
    client = daemon.client
    if not client.connected.is_set():
        checks["ami"] = {"ok": False, "why": "not connected to the AMI"}
    elif not daemon.ready.is_set():
        checks["ami"] = {"ok": False, "why": "connected, not resynced yet"}
    else:
        checks["ami"] = {"ok": True}
    try:
        with daemon.engine.begin() as conn:
            # A write the database must accept (none is made): refused when read-only.
            conn.execute(text("UPDATE webhook_outbox SET attempts = attempts WHERE 1 = 0"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # any refusal: the reason's type only (never the URL)
        checks["database"] = {"ok": False, "why": f"not writable ({type(exc).__name__})"}
    follower = daemon.pbx
    if follower is None:
        checks["pbx_record"] = {"ok": True, "why": "not followed ([pbx_record] enabled = false)"}
    else:
        last = follower.last_read
        age = None if last is None else (datetime.now(UTC) - last).total_seconds()
        if age is None or age > PBX_RECORD_STALE:
            checks["pbx_record"] = {
                "ok": False,
                "why": "never read" if age is None else f"last read {age:.0f} s ago",
            }
        else:
            checks["pbx_record"] = {"ok": True, "age_seconds": round(age, 1)}
    failure = daemon.supervisor.failure
    checks["tasks"] = (
        {"ok": True} if failure is None else {"ok": False, "why": f"{failure} kept failing"}
    )
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}


class DaemonCollector(Collector):
    """The daemon's figures at scrape time."""

    def __init__(self, daemon: Daemon, pbx: PbxDeps, lag: LoopLag) -> None:
        self.daemon = daemon
        self.pbx = pbx  # the same view of the PBX the API has
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        d = self.daemon
        s = d.eventlog.stats
        desk = d.incidents
        plain: list[tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str, float]] = [
            (C, "callcenter_ami_events", "AMI events received", s.appended),
            (C, "callcenter_ami_connects", "Logins to the AMI (1 + reconnects)", d.client.connects),
            (C, "callcenter_ami_bad_frames", "AMI frames refused", d.client.bad_frames),
            (G, "callcenter_ami_connected", "1 when the AMI link is up", _up(d)),
            (G, "callcenter_eventlog_buffered", "Events held, not written yet", d.eventlog.pending),
            (C, "callcenter_eventlog_written", "Events written to the database", s.written),
            (C, "callcenter_eventlog_spilled", "Events spilled to the spool file", s.spilled),
            (C, "callcenter_eventlog_write_failures", "Failed writes (retried)", s.failures),
            (C, "callcenter_eventlog_quarantined", "Poison events set aside", s.quarantined),
            (G, "callcenter_spool_bytes", "Bytes in the spool directory", _spool_bytes(d)),
            (G, "callcenter_incidents_backlog", "Answered calls waiting for their incident",
             desk.pending if desk is not None else 0),
            (G, "callcenter_event_loop_lag_seconds", "The loop's last measured lag", self.lag.last),
            (G, "callcenter_event_loop_lag_worst_seconds", "The worst lag since start",
             self.lag.worst),
        ]  # fmt: skip
        for kind, name, doc, value in plain:
            yield kind(name, doc, value=value)
        today = d.today_figures(None)
        calls = GaugeMetricFamily(
            "callcenter_calls_today", "Today's finished calls by outcome", labels=["outcome"]
        )
        for outcome, count in today.to_dict().items():
            if outcome in _OUTCOMES:
                calls.add_metric([outcome], count)
        yield calls
        waiting = GaugeMetricFamily("callcenter_queue_waiting", "Callers waiting", labels=["queue"])
        longest = GaugeMetricFamily(
            "callcenter_queue_longest_wait_seconds", "The longest wait now", labels=["queue"]
        )
        now = time.time()
        scene = Scene.of(self.pbx, now)
        for q in d.cfg.queues:
            live = d.live.queues.get(q.name)
            entries = list(live.entries.values()) if live is not None else []
            waiting.add_metric([q.name], len(entries))
            joined = [scene.joined_at(e) for e in entries]
            waits = [now - j for j in joined if j is not None]
            longest.add_metric([q.name], max(waits, default=0.0))
        yield waiting
        yield longest
        agents = GaugeMetricFamily("callcenter_agents", "Agents by state", labels=["state"])
        states = Counter(agent_view(scene, a)["state"] for a in d.cfg.agents)
        for state, count in sorted(states.items()):
            agents.add_metric([state], count)
        yield agents
        pending, dead = _outbox(d)
        yield G("callcenter_webhooks_pending", "Webhook deliveries waiting", value=pending)
        yield G("callcenter_webhooks_dead", "Webhook deliveries given up", value=dead)


_OUTCOMES = frozenset(
    ("answered", "abandoned", "short_abandoned", "after_hours", "transferred_out",
     "voicemail", "callback", "failed", "unknown")
)  # fmt: skip


C, G = CounterMetricFamily, GaugeMetricFamily


def _up(d: Daemon) -> int:
    return int(d.client.connected.is_set())


def _spool_bytes(d: Daemon) -> int:
    spool = d.eventlog.spool_dir
    if spool is None or not spool.is_dir():
        return 0
    return sum(p.stat().st_size for p in spool.iterdir() if p.is_file())


def _outbox(d: Daemon) -> tuple[int, int]:
    w = WebhookOutbox
    with d.engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).where(w.delivered_at.is_(None), w.dead.is_(False))
        ).scalar()
        dead = conn.execute(select(func.count()).where(w.dead.is_(True))).scalar()
    return int(pending or 0), int(dead or 0)


class WatchRoutes:
    """/healthz, /readyz and /metrics (outside /api/v1: what monitoring expects)."""

    def __init__(self, daemon: Daemon, pbx: PbxDeps, tokens: TokenStore, lag: LoopLag) -> None:
        self.daemon = daemon
        self.tokens = tokens
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DaemonCollector(daemon, pbx, lag))

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
            web.get("/metrics", self.metrics),
        ]

    @public
    async def healthz(self, request: web.Request) -> web.Response:
        return json_response({"alive": True, "server": self.daemon.cfg.server.id})

    @public
    async def readyz(self, request: web.Request) -> web.Response:
        state = await asyncio.to_thread(readiness, self.daemon)
        return json_response(
            {**state, "server": self.daemon.cfg.server.id}, status=200 if state["ready"] else 503
        )

    @public  # loopback, or a bearer token (checked here)
    async def metrics(self, request: web.Request) -> web.Response:
        await self._may_scrape(request)
        body = await asyncio.to_thread(generate_latest, self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _may_scrape(self, request: web.Request) -> None:
        peer = request.remote or ""
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(peer).is_loopback:
                return
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        record = None
        if scheme.lower() == "bearer" and token:
            record = await asyncio.to_thread(self.tokens.identify, token.strip())
        if record is None:
            raise ApiError(401, "a bearer token is needed from this address")
        if record.role not in READERS:
            raise ApiError(403, "metrics are for supervisors, admins, auditors and loopback")
