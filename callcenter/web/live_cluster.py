"""One wallboard for every server: each daemon publishes its PBX's live state to
PostgreSQL and listens for the others' (docs/decisions/0017-one-wallboard.md).

* Publishing: after a burst of events (``changed``), at most once per
  ``publish_interval``, and at least once per ``heartbeat``, the daemon's own sections
  (and today's counts and sums, ``raw``) are written to its ``live_states`` row, and a
  NOTIFY carries "server seq" (store.live_states). An unchanged state is not written
  again before the heartbeat. The own sections are built once per change: the
  publication takes the hub's build when nothing changed since (with that build's time).
* Listening: one connection LISTENs; each notification of another server marks it to be
  read, and a reader task reads the marked rows (a burst of notifications costs one
  read), then wakes the live hub. Notifications are not kept: at every (re)connection,
  after LISTEN, every row is read again.
* The hub's snapshot is ``merged``: this daemon's own state with the others'
  (web.live_merge); with no other server it is the own state, untouched.

Both loops run under the daemon's supervisor, and a database away only pauses them: the
wallboard goes on showing this PBX, and the others come back with the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine

from callcenter.backoff import backoff
from callcenter.cluster.settings import ClusterSettings
from callcenter.metrics.settings import MetricsConfig
from callcenter.store import live_states
from callcenter.store.live_states import CHANNEL, LiveState, parse_payload
from callcenter.web.live_delta import stable
from callcenter.web.live_merge import Raw, ServerState, merge

log = structlog.get_logger("callcenter.web")

Sections = Callable[[float], Mapping[str, Any]]
# How old the hub's build of the own sections may be and still be published (when
# nothing changed since): its time is published with it.
REUSE_SECONDS = 1.0
Today = Callable[[], Raw]


class Link:
    """A database connection, made when first needed and again after it was dropped."""

    def __init__(self, connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]) -> None:
        self.connect = connect
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def get(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await self.connect()
        return self._conn

    async def drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.close()


class ClusterLive:
    def __init__(
        self,
        engine: Engine,
        server_id: str,
        settings: ClusterSettings,
        metrics: MetricsConfig,
        own: Sections,
        raw_today: Callable[[], dict[str, Any]],
        *,
        ticking: Collection[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.server_id = server_id
        self.settings = settings
        self.metrics = metrics
        self.own = own
        self.raw_today = raw_today
        self.ticking = frozenset(ticking)
        self.clock = clock
        self.holder = f"{server_id}/{uuid.uuid4().hex}"
        self.remotes: dict[str, ServerState] = {}
        self.on_remote: Callable[[], None] = lambda: None  # the hub's notify
        self.listening = False
        self.published = 0
        self.received = 0
        self._seq = int(clock() * 1000)  # grows across restarts too
        self._dirty = asyncio.Event()
        # Bumped at every change; the last build of the own sections, with the version
        # it was made at and its time: the hub's snapshot and the publication after the
        # same change share one build (2.3 ms at 200 calls, bench/live_cluster).
        self._version = 0
        self._built: tuple[int, float, Mapping[str, Any]] | None = None
        self._marked: set[str] = set()
        self._reload = False
        self._read_wake = asyncio.Event()
        # Its own connections (autocommit) for writing and for reading the states, on the
        # event loop; a third one LISTENs. ``connect`` makes one (tests replace it).
        self.connect: Callable[[], Awaitable[psycopg.AsyncConnection[Any]]] = self._connect
        self._publisher = Link(lambda: self.connect())
        self._reader = Link(lambda: self.connect())

    # -- the hub's snapshot ----------------------------------------------------------------

    def _own(self, at: float) -> Mapping[str, Any]:
        built = self.own(at)
        self._built = (self._version, at, built)
        return built

    def __call__(self, now: float | None = None) -> dict[str, Any]:
        at = self.clock() if now is None else now
        own = dict(self._own(at))
        others = [s for s in self.remotes.values() if s.server_id != self.server_id]
        if not others:
            return own
        own["raw"] = self.raw_today()
        return merge(
            ServerState(self.server_id, at, own),
            others,
            now=at,
            cfg=self.metrics,
            same_name_queues=self.settings.same_name_queues,
            ticking=self.ticking,
            stale_after=self.settings.stale_after,
        )

    # -- publishing ------------------------------------------------------------------------

    def changed(self) -> None:
        """The own state may have changed (cheap; the loop decides when to write)."""
        self._version += 1
        self._dirty.set()

    def _to_publish(self) -> tuple[float, Mapping[str, Any]]:
        """The own sections and the time they are for: the hub's build if nothing changed
        since (its clocks are moved on from that time by whoever reads it), else new."""
        built = self._built
        now = self.clock()
        if built is not None and built[0] == self._version and now - built[1] < REUSE_SECONDS:
            return built[1], built[2]
        return now, self._own(now)

    async def publish_loop(self) -> None:
        try:
            await self._publish_loop()
        finally:
            await self._publisher.drop()

    async def _publish_loop(self) -> None:
        last_key: Any = None
        last_at = 0.0
        failures = 0
        loop = asyncio.get_running_loop()
        next_start = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.settings.heartbeat)
            # At most one publication per interval, counted from the last one's start: a
            # write that took longer than the interval is followed at once by the next
            # change's (bench/live_cluster), not after one more interval on top of it.
            # The changes that come meanwhile go into the same publication.
            if (wait := next_start - loop.time()) > 0:
                await asyncio.sleep(wait)
            next_start = loop.time() + self.settings.publish_interval
            self._dirty.clear()
            # Written when it differs from the last state written (ticking clocks aside:
            # an event that changed nothing shown costs the other daemons no read), or
            # at the heartbeat. Compared as structures, not as JSON text: dumping it for
            # the comparison cost as much as dumping it for the write.
            at, own = self._to_publish()
            data = dict(own)
            data["raw"] = self.raw_today()
            key = stable(data, self.ticking)
            if key != last_key or self.clock() - last_at >= self.settings.heartbeat * 0.9:
                self._seq += 1
                state = LiveState(
                    self.server_id, self.holder, self._seq, datetime.fromtimestamp(at, UTC), data
                )
                try:
                    await live_states.publish(await self._publisher.get(), state)
                except (psycopg.Error, OSError) as exc:
                    # The database is away: the next change or heartbeat tries again, backing
                    # off (not up to 50 times a second for an outage of hours), said once.
                    if not failures:
                        log.warning("cluster.publish_failed", error=type(exc).__name__)
                    failures += 1
                    await self._publisher.drop()
                    last_key = None
                    next_start = loop.time() + backoff(failures - 1, 0.2, 5.0)
                else:
                    if failures:
                        log.info("cluster.publish_back", after_failures=failures)
                    failures = 0
                    self.published += 1
                    last_key, last_at = key, self.clock()

    # -- listening -------------------------------------------------------------------------

    def _conninfo(self) -> str:
        # psycopg's own URL form; the password stays in memory, never in a log line.
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._conninfo(), autocommit=True, connect_timeout=5
        )

    async def listen_loop(self) -> None:
        failures = 0
        while True:
            try:
                async with await self.connect() as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # After LISTEN: whatever changes from here is notified; what changed
                    # while away is in the rows.
                    self._reload = True
                    self._read_wake.set()
                    self.listening = True
                    failures = 0
                    async for note in conn.notifies():
                        parsed = parse_payload(note.payload)
                        if parsed is None or parsed[0] == self.server_id:
                            continue
                        self._marked.add(parsed[0])
                        self._read_wake.set()
            except (psycopg.Error, OSError) as exc:
                self.listening = False
                failures += 1
                log.warning("cluster.listen_lost", error=type(exc).__name__)
                await asyncio.sleep(backoff(failures, 0.2, 5.0))

    async def read_loop(self) -> None:
        try:
            await self._read_loop()
        finally:
            await self._reader.drop()

    async def _read_loop(self) -> None:
        failures = 0
        while True:
            await self._read_wake.wait()
            self._read_wake.clear()
            reload, self._reload = self._reload, False
            marked, self._marked = self._marked, set()
            try:
                conn = await self._reader.get()
                if reload:
                    rows = await live_states.read(conn)
                    self.remotes = {}
                else:
                    rows = []
                    for server in sorted(marked):
                        rows += await live_states.read(conn, server)
            except (psycopg.Error, OSError) as exc:
                if not failures:  # said once per outage, retried with the shared backoff
                    log.warning("cluster.read_failed", error=type(exc).__name__)
                failures += 1
                await self._reader.drop()
                self._reload = True  # read everything once the database is back
                await asyncio.sleep(backoff(failures - 1, 0.2, 5.0))
                self._read_wake.set()
                continue
            failures = 0
            for row in rows:
                if row.server_id == self.server_id:
                    continue
                self.remotes[row.server_id] = ServerState(
                    row.server_id, row.at.timestamp(), row.data
                )
                self.received += 1
            self.on_remote()
