"""The daemon: AMI client -> event log and live state. Owns start and stop order."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from callcenter.agents import AgentService
from callcenter.agents.pbxsource import agent_names
from callcenter.agents.queuelog import QueueLogFollower
from callcenter.agents.record import ActivityRecorder
from callcenter.ami import AMIClient, Message

# Where the daemon connects; imported from here by the CLI and tests.
from callcenter.ami.settings import AMITarget as AMITarget
from callcenter.ami_target import cel_path, queue_log_path
from callcenter.ami_target import resolve_ami_target as resolve_ami_target
from callcenter.calls import CallControl
from callcenter.config import Config
from callcenter.coverage import CoverageKeeper
from callcenter.followups.desk import FollowupDesk
from callcenter.followups.store import FollowupStore
from callcenter.front import Front
from callcenter.incidents.desk import IncidentDesk
from callcenter.incidents.figures import IncidentTargets
from callcenter.incidents.model import Incident
from callcenter.incidents.store import IncidentStore
from callcenter.logging import register_secret
from callcenter.metrics import CallFigures
from callcenter.metrics.definitions import definitions_of
from callcenter.metrics.today import TodaySums
from callcenter.pbxrecord.follower import PbxRecordFollower
from callcenter.pbxrecord.reader import CelFileReader, QueueLogReader
from callcenter.pbxrecord.reconcile import classifier_for
from callcenter.rebuild import open_call_events
from callcenter.reports.delivery import ReportDelivery
from callcenter.reports.forms import MonthlyForms
from callcenter.reports.providers import providers_for
from callcenter.routing import FactRouter
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.standby import ActiveRole
from callcenter.store.db import make_engine, migrate_when_up
from callcenter.store.eventlog import EventLog
from callcenter.store.upkeep import EventLogUpkeep
from callcenter.supervise import Supervisor
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.callswriter import CallsWriter
from callcenter.telephony.live import LIVE_EVENTS, LiveState
from callcenter.telephony.snapshot import as_of_now, take_parked, take_snapshot
from callcenter.telephony.tracker import CallTracker
from callcenter.webhooks.sender import WebhookSender

log = structlog.get_logger("callcenter.daemon")

# How long an answered call's incident waits for others to share its transaction: at
# 20 calls a second a commit each was a fifth of the daemon's CPU (bench/pbx_load);
# the agent's console shows the incident this much later.
INCIDENT_GATHER = 0.1


class Daemon:
    def __init__(self, cfg: Config, target: AMITarget, engine: Engine | None = None) -> None:
        self.cfg = cfg
        self.target = target
        register_secret(target.secret)
        self.engine = engine or make_engine(cfg.database_url())
        db = cfg.database
        self.eventlog = EventLog(self.engine, cfg.server.id, db, spool_dir=cfg.path(db.spool_dir))
        self.live = LiveState()
        self.tracker = CallTracker(
            cfg.server.id,
            definitions=definitions_of(cfg.metrics),
            short_abandon_seconds=cfg.metrics.short_abandon_seconds,
            agent_names={a.id: a.name for a in cfg.agents},
        )
        self.tz = ZoneInfo(cfg.service.timezone)
        # Today's figures, and the last calls finished (metrics.today).
        self.today = TodaySums(self.engine, cfg.metrics, self.tz, cfg.server.id)
        self.calls_writer = CallsWriter(
            self.engine,
            self.tz,
            retry_min=db.retry_min,
            retry_max=db.retry_max,
            flush_interval=db.flush_interval,
        )
        # Active or standing by for this PBX ([cluster] standby; callcenter/standby.py).
        self.role = ActiveRole(self.engine, cfg.server.id, cfg.cluster)
        self.role.on_takeover = self._take_over
        self._start_record: Callable[[], None] | None = None
        # The event log's month partitions and retention (store/upkeep.py).
        self.upkeep = EventLogUpkeep(self.engine, cfg.retention)
        # Restarts a background task that crashed; one that keeps crashing stops the daemon.
        self.supervisor = Supervisor()
        self._pbx_started: str | None = None
        self._resync_backlog: list[Message] | None = None
        self.client = AMIClient(target, cfg.ami, on_event=self._on_event, on_connect=self._resync)
        # Agents log in/out of queues and pause through the daemon (QueueAdd/Remove/Pause).
        self.agents = AgentService(self.client, self.live, cfg.agents, cfg.queues)
        # Their activity (log-ins, pauses with reasons, calls' ends): agents/record.py.
        self.activity = ActivityRecorder(
            self.engine,
            cfg.server.id,
            retry_min=db.retry_min,
            retry_max=db.retry_max,
            flush_interval=db.flush_interval,
        )
        # Agents park, pick up and transfer calls (Park, Originate, BlindTransfer, Atxfer).
        lot = cfg.parking[0]
        self.calls = CallControl(
            self.client,
            self.live,
            cfg.agents,
            parkinglot=lot.name,
            pickup_context=lot.context,
            targets=cfg.transfer_targets,
        )
        # The follow-up list (callers not reached yet) and the agents' call-backs.
        self.followups: FollowupDesk | None = (
            FollowupDesk(
                FollowupStore(self.engine),
                self.client,
                self.live,
                cfg.agents,
                cfg.followups,
                retry_min=db.retry_min,
                retry_max=db.retry_max,
                on_change=self._changed,
                gather=db.flush_interval,
            )
            if cfg.followups.enabled
            else None
        )
        # The after-hours mode the dialplan reads (AstDB callcenter/mode and mode_until).
        self.calendar = BusinessCalendar.from_config(cfg.service)
        self.service_mode: ModeKeeper | None = (
            ModeKeeper(self.client, self.calendar, ttl=cfg.service.mode_ttl_seconds)
            if cfg.service.manage_mode
            else None
        )
        # Incidents: one per answered call, and the phone survey's answers (docs/incidents.md).
        self.webhooks = WebhookSender(self.engine, cfg.webhooks) if cfg.webhooks.enabled else None
        self.incident_store = IncidentStore(
            self.engine,
            webhooks=cfg.webhooks,
            on_commit=self.webhooks.wake if self.webhooks is not None else None,
        )
        self.incidents: IncidentDesk | None = (
            IncidentDesk(
                self.incident_store,
                agent_ids={a.name: a.id for a in cfg.agents},
                repeat_window=timedelta(hours=cfg.incidents.repeat_window_hours),
                on_opened=self._incident_opened,
                gather=INCIDENT_GATHER,
            )
            if cfg.incidents.enabled
            else None
        )
        # The tracker's facts, each to whom it concerns (the one-way path; routing.py).
        self.router = FactRouter(
            self.role, self.calls_writer, self.today, self.followups, self.incidents, self.tracker
        )
        # Asterisk's own record: calls the AMI stream missed are completed from it.
        self.pbx: PbxRecordFollower | None = (
            PbxRecordFollower(
                self.engine,
                CelFileReader(self.engine, cfg.server.id, cel_path(cfg)),
                classifier_for(cfg.server.id, cfg.service, cfg.metrics, cfg.agents),
                cfg.pbx_record,
                self.router.from_record,
                figures=cfg.metrics,
            )
            if cfg.pbx_record.enabled
            else None
        )
        # And its queue_log: the agents' activity while the daemon did not see the PBX.
        self.queue_log: QueueLogFollower | None = (
            QueueLogFollower(
                self.engine,
                QueueLogReader(self.engine, cfg.server.id, queue_log_path(cfg)),
                agent_names((a.id, a.name) for a in cfg.agents),
                cfg.pbx_record.poll_interval,
            )
            if cfg.pbx_record.enabled and cfg.pbx_record.queue_log
            else None
        )
        self._pbx_stop = asyncio.Event()
        # The monthly report, made, kept and sent on the first operating day (reports/).
        forms = MonthlyForms(
            self.engine,
            cfg.service,
            cfg.metrics,
            IncidentTargets.from_config(cfg.incidents),
            lambda: datetime.now(UTC),
            providers_for(cfg.server.id, cfg.queues),
            same_name_queues=cfg.cluster.same_name_queues,
        )
        self.reports: ReportDelivery | None = (
            ReportDelivery(
                self.engine,
                cfg.reports,
                self.calendar,
                cfg.server.id,
                forms.render,
                forms.summarize,
                webhooks=cfg.webhooks if cfg.webhooks.enabled else None,
            )
            if cfg.reports.archive
            else None
        )
        self._reports_stop = asyncio.Event()
        self._last_seen: float | None = None  # of the calls resumed from stored events
        # Which stretches of time the daemon saw through AMI (figures name the gaps).
        self._synced_conn: int | None = None
        self.coverage = CoverageKeeper(
            self.engine, cfg.server.id, self.eventlog.run_id, self._connected, tz=self.tz
        )
        self._coverage_task: asyncio.Task[None] | None = None
        self._pbx_task: asyncio.Task[None] | None = None
        self._queue_log_task: asyncio.Task[None] | None = None
        # The parts in front (the HTTP API): they attach themselves; the daemon tells them.
        self.fronts: list[Front] = []
        self.ready = asyncio.Event()

    def attach(self, front: Front) -> None:
        """``front`` starts after, and stops before, the daemon's own parts."""
        self.fronts.append(front)

    def _incident_opened(self, incident: Incident) -> None:
        """The agent's console pops the new incident up (called from the desk's thread)."""
        for front in self.fronts:
            front.incident_opened(incident)

    async def _take_over(self) -> None:
        """The active daemon of this PBX is gone: write what was held, read the PBX
        record, and resync."""
        finished, answered = self.router.write_held()
        if self._start_record is not None:
            self._start_record()
            self._start_record = None
        log.warning("daemon.took_over", calls=finished, answered=answered)
        if self.client.connected.is_set():
            # The agents' states as they are now, recorded from here on.
            await self._resync(self.client)

    def _on_event(self, msg: Message, received: float) -> None:
        active = self.role.active
        if active:
            self.eventlog.append(msg, received)  # first: whatever happens next, it is stored
        if self._resync_backlog is not None:
            self._resync_backlog.append(msg)
        self.live.apply(msg)
        if active:
            self.activity.apply(msg, received)
            if self.followups is not None:
                self.followups.apply(msg, received)  # the call-backs' stages and responses
        self.router.route(self.tracker.apply(msg, received))
        if msg.get("Event") in LIVE_EVENTS:
            self._changed()

    def _changed(self) -> None:
        for front in self.fronts:
            front.changed()

    @property
    def recent_calls(self) -> deque[CallRecord]:
        """The last calls finished (today's), for a look."""
        return self.today.recent_calls

    @property
    def outcomes(self) -> Counter[str]:
        return self.today.outcomes

    def today_figures(self, queue: str | None = None) -> CallFigures:
        """Today so far (service time zone): what is stored plus what finished since."""
        return self.today.figures(queue)

    async def _resync(self, client: AMIClient) -> None:
        # Events that arrive while the snapshot is taken are replayed on top of it; the
        # live-state operations are set-like, so replaying one already seen is harmless.
        if self.service_mode is not None:
            await self.service_mode.resync()  # first: callers hear the right message at once
        self._resync_backlog = []
        try:
            queues, channels, started = await take_snapshot(client)
            parked = await take_parked(client)
            backlog = self._resync_backlog
            self.live.reset_from_resync(queues, channels)
            if parked is not None:
                self.live.resync_parked(parked)
            for ev in backlog:
                if ev.get("ActionID") is None:
                    self.live.apply(ev)
            restarted = self._pbx_started is not None and started != self._pbx_started
            self._pbx_started = started
            self.router.route(
                self.tracker.resync_facts(
                    as_of_now(channels, backlog),
                    queues,
                    now=time.time(),
                    pbx_restarted=restarted,
                    gap_started=self._last_seen,
                )
            )
            self._last_seen = None
        finally:
            self._resync_backlog = None
        log.info(
            "ami.resynced",
            channels=len(self.live.channels),
            queues=len(self.live.queues),
            waiting=sum(len(q.entries) for q in self.live.queues.values()),
        )
        self._changed()  # the state after a gap: every page gets it
        # Ready means connected *and* the live state reflects the server.
        self.ready.set()
        self._synced_conn = self.client.connects
        self.coverage.wake()

    async def _resume_open_calls(self) -> None:
        """Calls an earlier run left open (stopped or killed mid-call) take their stored
        events back into the tracker, so the first resync continues them with their real
        times; a call that ended meanwhile is then finished by the resync (and completed
        from the PBX record)."""
        since = datetime.now(UTC) - timedelta(hours=12)
        try:
            events = await asyncio.to_thread(
                open_call_events, self.engine, self.cfg.server.id, since
            )
        except SQLAlchemyError as exc:
            log.warning("calls.resume_failed", error=type(exc).__name__)
            return
        for headers, received in events:
            self.router.route(self.tracker.apply(headers, received))
        # The last the earlier run saw of them: a resumed call gone at the first resync
        # ended after that, not hours later at the resync.
        self._last_seen = max((r for _, r in events), default=None)
        if self.tracker.calls:
            log.info("calls.resumed", calls=len(self.tracker.calls), events=len(events))

    def _connected(self) -> int | None:
        """The current connection's number once its resync is done; None while blind."""
        c = self.client
        ok = c.connected.is_set() and self._synced_conn == c.connects
        return c.connects if ok else None

    @property
    def failed(self) -> bool:
        """A background task kept failing (``callcenter run`` then exits 3)."""
        return self.supervisor.failure is not None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (or a background task keeps failing); then stop
        everything in the reverse order it started, the event log flushed last."""
        if not await migrate_when_up(self.engine, self.cfg.database, stop):
            self.engine.dispose()
            return
        await asyncio.to_thread(self.today.load)
        await self._resume_open_calls()
        await self.activity.catch_up()  # what a killed run had not recorded yet
        async with contextlib.AsyncExitStack() as stack:
            # Stop mirrors start: each part pushes its stop as it starts. Each stop runs
            # even if a later-started part's stop raised (logged), and the event log,
            # started first, is flushed last: shutdown always flushes what others hold.
            def on_stop(name: str, step: Callable[[], Awaitable[None]]) -> None:
                stack.push_async_callback(self._stop_step, name, step)

            stack.callback(self._stopped)
            sup = self.supervisor
            on_stop("supervisor", sup.stop)
            writer = sup.start("eventlog-writer", self.eventlog.run)
            # Whatever became of the writer task: what is still held is written or spooled.
            on_stop("eventlog-flush", self.eventlog.flush)
            on_stop("eventlog-writer", lambda: self._stop_eventlog(writer))
            calls_stop = asyncio.Event()
            calls_writer = sup.start("calls-writer", lambda: self.calls_writer.run(calls_stop))
            on_stop("calls-writer", lambda: self._stop_calls_writer(calls_stop, calls_writer))
            if self.followups is not None:
                followups = self.followups
                followups_stop = asyncio.Event()
                written = sup.start("followups", lambda: followups.run(followups_stop))
                on_stop("followups", lambda: _set_and_wait(followups_stop, written))
            activity_stop = asyncio.Event()
            activity = sup.start("activity-writer", lambda: self.activity.run(activity_stop))
            on_stop("activity-writer", lambda: _set_and_wait(activity_stop, activity))

            def start_record() -> None:
                # The PBX record and the coverage: the active daemon's only.
                if self.pbx is not None:
                    pbx = self.pbx
                    self._pbx_task = sup.start("pbx-record", lambda: pbx.run(self._pbx_stop))
                if self.queue_log is not None:
                    qlog = self.queue_log
                    self._queue_log_task = sup.start("queue-log", lambda: qlog.run(self._pbx_stop))
                self._coverage_task = sup.start(
                    "coverage", lambda: self.coverage.run(self._pbx_stop)
                )

            if await self.role.claim():
                start_record()
            else:
                self._start_record = start_record  # at the takeover
                log.info("daemon.standing_by", server=self.cfg.server.id)
            if self.role.enabled:
                sup.start("active-lease", self.role.run)
            upkeep_stop = asyncio.Event()
            upkeep = sup.start("eventlog-upkeep", lambda: self.upkeep.run(upkeep_stop))
            on_stop("eventlog-upkeep", lambda: _set_and_wait(upkeep_stop, upkeep))
            on_stop("pbx-record", self._stop_pbx_record)
            if self.reports is not None:
                reports = self.reports
                made = sup.start("reports", lambda: reports.run(self._reports_stop))
                on_stop("reports", lambda: _set_and_wait(self._reports_stop, made))
            if self.webhooks is not None:
                await self.webhooks.start(spawn=sup.start)
                on_stop("webhooks", self.webhooks.stop)
            if self.incidents is not None:
                await self.incidents.start(spawn=sup.start)
                on_stop("incidents", self.incidents.stop)
            starter = asyncio.create_task(self.client.start(), name="ami-start")
            on_stop("ami-client", self.client.close)
            stopper = asyncio.create_task(stop.wait(), name="stop-wait")
            failed = asyncio.create_task(sup.failed.wait(), name="supervisor-failed")
            waits: list[asyncio.Task[object]] = [starter, stopper, failed]
            on_stop("waits", lambda: _cancel(waits))
            for front in self.fronts:
                await front.start()
                on_stop(front.name, front.stop)
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if starter in done:
                starter.result()  # a refused login ends the daemon here, with its message
                if self.service_mode is not None:
                    await self.service_mode.start()
                    on_stop("service-mode", self.service_mode.stop)
                log.info(
                    "daemon.started",
                    server=self.cfg.server.id,
                    ami=self.client.address,
                    database=self.engine.dialect.name,
                )
                # What start-up made (modules, config, the first snapshot) lives as long as
                # the daemon: out of the collector's sight, a full collection no longer
                # stops the loop for 60-90 ms (bench/live saw it in the pushes' p99).
                gc.freeze()
                await asyncio.wait([stopper, failed], return_when=asyncio.FIRST_COMPLETED)
            if sup.failed.is_set():
                log.error("daemon.stopping", reason=f"background task {sup.failure} kept failing")

    @staticmethod
    async def _stop_step(name: str, step: Callable[[], Awaitable[None]]) -> None:
        try:
            await step()
        except Exception:
            log.exception("daemon.shutdown_step_failed", step=name)

    async def _stop_eventlog(self, writer: asyncio.Task[None]) -> None:
        await self.eventlog.stop()
        await writer

    async def _stop_pbx_record(self) -> None:
        self._pbx_stop.set()  # and the coverage keeper, which closes its interval
        for task in (self._pbx_task, self._queue_log_task, self._coverage_task):
            if task is not None:
                await task

    async def _stop_calls_writer(self, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
        stop.set()  # no call can finish any more: write the last ones
        await task
        if self.calls_writer.unwritten and task.done():
            await self.calls_writer.run(stop)  # its task died: one last try
        if self.calls_writer.unwritten:
            # Not lost: the event log holds their events, and replaying it rebuilds them.
            log.error("calls.unwritten", calls=len(self.calls_writer.unwritten))

    def _stopped(self) -> None:
        s = self.eventlog.stats
        log.info(
            "daemon.stopped",
            events=s.appended,
            written=s.written,
            spooled=s.spilled,
            quarantined=s.quarantined,
            pending=self.eventlog.pending,
        )
        self.engine.dispose()


async def _set_and_wait(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await task


async def _cancel(tasks: list[asyncio.Task[object]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
