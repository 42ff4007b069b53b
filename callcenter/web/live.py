"""The live websocket, ``GET /api/v1/live``: the PBX pushed to wallboards and consoles.

Messages (text frames, JSON), numbered per connection from 1 with no gaps::

    {"type": "snapshot", "seq": 1, "at": ISO, "data": {every section}}
    {"type": "delta",    "seq": n, "at": ISO, "changes": [what changed, keyed]}
    {"type": "incident", "seq": n, "at": ISO, "data": incident}

A snapshot comes first on every connection (so a reconnect starts clean) and again
whenever the server had to drop what a slow connection had not taken yet. A delta says
what changed since the message before it (``live_delta``: a caller who joined or left,
an agent's state, today's figures), each item addressed by its key (a queue's name, a
caller's uniqueid, an agent's id, a parking slot), never by an index; a client applies
it to what it holds, and asks for a snapshot on a gap. ``at`` is when the data was
taken: elapsed seconds in it are as of ``at``, and a page counts on from there. A client
may send ``{"type": "snapshot"}`` to be sent a fresh snapshot.

The daemon calls ``notify()`` after each AMI event that may have changed the live state:
it only arms a timer, so a burst of events within ``coalesce_seconds`` costs one
snapshot, diffed unit by unit against the last one taken, and at most one message to
each client: the same delta for all (encoded once), since every client holds the last
state taken (a client that does not gets a snapshot). The diff ignores the ``ticking``
keys (elapsed seconds), so a waiting caller's clock does not make every flush a delta. A
slow recheck (``recheck_seconds``) catches what changes with no event: the service mode at
a boundary, the day at midnight.

Each connection has its own bounded backlog and writer task: a client that does not read
fills only its own backlog, which is then dropped for a fresh snapshot (incidents are
kept: an agent's screen-pop must not be lost to a slow link).

A token holds at most ``per_token`` connections at once (its login sessions' and its
bearer ones together); one more is refused with 429 before the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from callcenter.web.auth import (
    PRINCIPAL,
    SESSION_COOKIE,
    TOKEN_ID,
    Principal,
    SessionStore,
    TokenStore,
    public,
)
from callcenter.web.errors import ApiError, dumps
from callcenter.web.live_delta import Flat, diff, flatten, stable

log = structlog.get_logger("callcenter.web")

Kind = Literal["snapshot", "delta", "incident"]
Snapshot = Callable[[float], Mapping[str, Any]]
# Live connections one token may hold at once (a wallboard on a few screens, a console or
# two): one more is refused with 429, so no token can take the daemon's sockets and
# memory (each connection has its backlog and its writer task).
LIVE_PER_TOKEN = 10


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="callcenter"'})


@dataclass(frozen=True, slots=True)
class _Message:
    kind: Kind
    at: str
    payload: str  # the data (a delta: its changes), as JSON text: encoded once for all


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    who: Principal
    seq: int = 0
    backlog: deque[_Message] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Set: the next message is a snapshot of the latest state (and deltas are not
    # queued until it has gone: it will hold them).
    needs_snapshot: bool = True
    writer: asyncio.Task[None] | None = None
    # Is what let it in still good (the token not revoked, the session not ended)?
    valid: Callable[[], Awaitable[bool]] | None = None


@dataclass
class HubStats:
    computed: int = 0  # snapshots taken
    deltas: int = 0  # delta messages queued (one per client each)
    delta_bytes: int = 0  # the changes of each delta taken, as JSON (one client's share)
    snapshots: int = 0  # snapshot messages sent
    dropped: int = 0  # backlogs dropped for a slow client
    failures: int = 0  # snapshots that raised
    # With ``LiveHub(measure_sections=True)`` (the benchmark): what the same flushes cost
    # as the former updates, each section that changed sent whole (one client's share).
    section_updates: int = 0
    section_bytes: int = 0


class LiveHub:
    def __init__(
        self,
        snapshot: Snapshot,
        *,
        tokens: TokenStore | None = None,
        sessions: SessionStore | None = None,
        coalesce_seconds: float = 0.02,
        recheck_seconds: float = 5.0,
        backlog: int = 64,
        heartbeat: float = 20.0,
        close_timeout: float = 2.0,
        ticking: Collection[str] = frozenset(),
        clock: Callable[[], float] = time.time,
        per_token: int = LIVE_PER_TOKEN,
        measure_sections: bool = False,
    ) -> None:
        """``snapshot(now)``: every section as JSON-ready data; ``tokens``: how bearer
        tokens are checked (None: only principals the auth middleware set are let in)."""
        if backlog < 1 or per_token < 1:
            raise ValueError("backlog and per_token: at least 1")
        self._snapshot = snapshot
        self.tokens = tokens
        self.sessions = sessions
        self.coalesce_seconds = coalesce_seconds
        self.recheck_seconds = recheck_seconds
        self.backlog = backlog
        self.heartbeat = heartbeat
        self.close_timeout = close_timeout
        self.ticking = frozenset(ticking)
        self.clock = clock
        self.per_token = per_token
        self.measure_sections = measure_sections
        self.stats = HubStats()
        self._clients: set[_Client] = set()
        # Connections per token, counted from before the handshake to the handler's end.
        self._per_token: dict[str, int] = {}
        # The hub's own background tasks (the recheck's revalidation): kept, so that each
        # is awaited (its failure logged) and cancelled at close, never left to the GC.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_at: asyncio.TimerHandle | None = None
        self._recheck_at: asyncio.TimerHandle | None = None
        self._closed = False
        # What was last taken: the sections, as units, when, and as JSON (lazily).
        self._last: dict[str, Any] | None = None
        self._last_flat = Flat()
        self._last_stable: dict[str, Any] = {}  # its sections' stable forms (measuring)
        self._last_at = ""
        self._last_json: str | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- from the daemon (cheap, never blocks; any thread) ---------------------------------

    def notify(self) -> None:
        """Something may have changed: send what did, once the burst is over."""
        if not self._clients:
            # Nobody to tell (a new client gets a fresh snapshot): decided before the
            # loop check, which costs more, at every live event (a daemon with no
            # wallboard open, most of the time).
            return
        if not self._on_loop(self.notify):
            return
        if self._closed or not self._clients or self._flush_at is not None:
            return  # nobody to tell (a new client gets a fresh snapshot), or armed already
        assert self._loop is not None
        self._flush_at = self._loop.call_later(self.coalesce_seconds, self._flush)

    def publish_incident(self, incident: Mapping[str, Any]) -> None:
        """An incident opened (or changed): to its agent and to supervisors and admins."""
        if not self._on_loop(self.publish_incident, incident):
            return
        if self._closed:
            return
        agent_id = incident.get("agent_id")
        readers = [c for c in self._clients if c.who.may_read(agent_id)]
        if not readers:
            return
        message = _Message("incident", _iso(self.clock()), dumps(dict(incident)))
        for c in readers:
            self._enqueue(c, message)

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> bool:
        """True on the hub's loop; from another thread (the incident desk's worker), hand
        the call over to the loop and say False."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None:
            if running is None:
                return False  # no client has ever connected: nobody to tell
            self._loop = running
        if running is self._loop:
            return True
        with contextlib.suppress(RuntimeError):  # the loop is closed: the daemon is gone
            self._loop.call_soon_threadsafe(fn, *args)
        return False

    # -- taking and sending ----------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_at = None
        if not self._closed and self._clients:
            self._take()

    def _recheck(self) -> None:
        self._recheck_at = None
        if self._closed or not self._clients:
            return
        self._take()
        if self._loop is not None and not self._tasks:  # one revalidation at a time
            self._spawn(self.revalidate(), "live-revalidate")
        self._arm_recheck()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()  # retrieved: never "unseen"
        if exc is not None:
            log.error("live.task_failed", task=task.get_name(), error=repr(exc), exc_info=exc)

    async def revalidate(self) -> int:
        """Close the connections whose token was revoked or whose session ended (they were
        let in once; they must not go on receiving callers and incidents). Run at every
        recheck, and by the pages at a logout. Returns how many were closed."""
        closed = 0
        for c in list(self._clients):
            if c.valid is None or await c.valid():
                continue
            closed += 1
            self._clients.discard(c)
            log.info("live.access_ended", who=c.who.actor)
            with contextlib.suppress(Exception):
                await c.ws.close(code=4401, message=b"access ended: log in again")
        return closed

    def _validity(self, request: web.Request, token: str | None) -> Callable[[], Awaitable[bool]]:
        tokens, sessions = self.tokens, self.sessions
        session_id = request.cookies.get(SESSION_COOKIE) if token is None else None

        async def valid() -> bool:
            if token is not None:
                return tokens is not None and (
                    await asyncio.to_thread(tokens.lookup, token) is not None
                )
            if sessions is None or tokens is None or session_id is None:
                return True  # let in by the middleware's own rules; nothing to re-check
            session = await sessions.aget(session_id)
            if session is None:
                return False
            return await asyncio.to_thread(tokens.active_principal, session.token_id) is not None

        return valid

    def _arm_recheck(self) -> None:
        if self._recheck_at is None and self._loop is not None and self.recheck_seconds > 0:
            self._recheck_at = self._loop.call_later(self.recheck_seconds, self._recheck)

    def _take(self) -> None:
        """Take the snapshot; queue what changed, as one delta, for every client."""
        now = self.clock()
        try:
            data = dict(self._snapshot(now))
        except Exception:
            # Keep serving the last state; the next event or recheck tries again.
            self.stats.failures += 1
            log.exception("live.snapshot_failed")
            return
        self.stats.computed += 1
        flat = flatten(data)
        first = self._last is None
        changes = [] if first else diff(self._last_flat, flat, self.ticking)
        if self.measure_sections:
            self._measure(data, first)
        self._last, self._last_flat, self._last_at, self._last_json = data, flat, _iso(now), None
        if not changes:
            return  # (first: nobody has had anything yet; each client gets a snapshot)
        message = _Message("delta", self._last_at, dumps(changes))
        self.stats.delta_bytes += len(message.payload)
        for c in self._clients:
            self._enqueue(c, message)

    def _measure(self, data: dict[str, Any], first: bool) -> None:
        """The former update for this flush: the sections that changed, each whole."""
        shape = {k: stable(v, self.ticking) for k, v in data.items()}
        changed = [k for k in data if shape[k] != self._last_stable.get(k)]
        self._last_stable = shape
        if not first and changed:
            self.stats.section_updates += 1
            self.stats.section_bytes += len(dumps({k: data[k] for k in changed}))

    def _enqueue(self, c: _Client, message: _Message) -> bool:
        """Queue ``message`` for ``c``; False if it was not (a delta it does not need)."""
        if message.kind == "delta":
            if c.needs_snapshot:
                return False  # the snapshot it waits for will be taken later: it holds this
            self.stats.deltas += 1
        if len(c.backlog) >= self.backlog:
            kept = [m for m in c.backlog if m.kind == "incident"][-(self.backlog // 2 or 1) :]
            c.backlog.clear()
            c.backlog.extend(kept)
            c.needs_snapshot = True
            self.stats.dropped += 1
            log.info("live.backlog_dropped", who=c.who.actor, kept=len(kept))
            if message.kind == "delta":
                c.wake.set()
                return False
        c.backlog.append(message)
        c.wake.set()
        return True

    def _snapshot_json(self) -> str:
        if self._last_json is None:
            self._last_json = dumps(self._last)
        return self._last_json

    @staticmethod
    def _text(c: _Client, kind: str, at: str, payload: str) -> str:
        c.seq += 1
        name = "changes" if kind == "delta" else "data"
        return f'{{"type":"{kind}","seq":{c.seq},"at":{json.dumps(at)},"{name}":{payload}}}'

    async def _write(self, c: _Client) -> None:
        """One client's writer: a slow socket holds up only this task."""
        try:
            while not c.ws.closed:
                await c.wake.wait()
                c.wake.clear()
                while not c.ws.closed:
                    if c.needs_snapshot and self._last is not None:
                        # Taken now, not when it was asked for: the newest state.
                        c.needs_snapshot = False
                        text = self._text(c, "snapshot", self._last_at, self._snapshot_json())
                        self.stats.snapshots += 1
                    elif c.backlog:
                        m = c.backlog.popleft()
                        text = self._text(c, m.kind, m.at, m.payload)
                    else:
                        break
                    await c.ws.send_str(text)
        except ConnectionError:
            pass  # the client went away; the handler's loop ends and unregisters it

    # -- the websocket ---------------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> tuple[Principal, str | None, str]:
        """Who connects, the bearer token if that is how, and the key its connections are
        counted by (the token's id): the principal the auth middleware set (a page's login
        session, which it checks, same origin included), else a bearer token from the
        Authorization header. Not from the URL: a token in a query string ends up in
        proxies' access logs and the browser's history."""
        already: Principal | None = request.get(PRINCIPAL)
        if already is not None:
            token_id: int | None = request.get(TOKEN_ID)  # set with the page's session
            if token_id is not None:
                return already, None, f"token:{token_id}"
            return already, None, f"principal:{already.role}:{already.name}"
        header = request.headers.get("Authorization")
        if header is None:
            raise _unauthorized("a bearer token (Authorization: Bearer <token>) or a login session")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("the Authorization header must be: Bearer <token>")
        token = value.strip()
        record = None
        if self.tokens is not None:
            record = await asyncio.to_thread(self.tokens.identify, token)
        if record is None:
            log.warning("api.token_refused", method=request.method, path=request.path)
            raise _unauthorized("the token is unknown or revoked")
        return record.principal(), token, f"token:{record.id}"

    @public  # authenticates itself: a browser's WebSocket cannot send a bearer header
    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        who, token, key = await self.authenticate(request)
        if self._closed:
            raise ApiError(503, "the server is shutting down", code="unavailable")
        held = self._per_token.get(key, 0)
        if held >= self.per_token:
            log.warning("live.too_many_connections", who=who.actor, limit=self.per_token)
            raise ApiError(
                429,
                f"this token has {self.per_token} live connections already: close one first",
                code="too_many_connections",
                headers={"Retry-After": "5"},
            )
        self._per_token[key] = held + 1  # held from before the handshake to the end
        try:
            return await self._serve(request, who, token)
        finally:
            left = self._per_token.pop(key) - 1
            if left:
                self._per_token[key] = left

    async def _serve(
        self, request: web.Request, who: Principal, token: str | None
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            heartbeat=self.heartbeat, timeout=self.close_timeout, max_msg_size=4096
        )
        await ws.prepare(request)
        self._loop = asyncio.get_running_loop()
        client = _Client(ws, who, valid=self._validity(request, token))
        # Bring everyone up to date first, so the new client's snapshot and the others'
        # state are the same point from which the next delta is diffed.
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        self._take()
        if self._last is None:
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"no live state")
            return ws
        self._clients.add(client)
        client.writer = asyncio.create_task(self._write(client), name="live-writer")
        client.wake.set()
        self._arm_recheck()
        log.info("live.connected", who=who.actor, clients=len(self._clients))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and _asks_snapshot(msg.data):
                    client.backlog = deque(m for m in client.backlog if m.kind == "incident")
                    client.needs_snapshot = True
                    client.wake.set()
        finally:
            self._clients.discard(client)
            client.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.writer
            log.info("live.disconnected", who=who.actor, clients=len(self._clients))
        return ws

    async def close(self) -> None:
        """Close every connection (going away), stop the timers and end the hub's tasks."""
        self._closed = True
        for handle in (self._flush_at, self._recheck_at):
            if handle is not None:
                handle.cancel()
        self._flush_at = self._recheck_at = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients = list(self._clients)
        await asyncio.gather(*(self._close_one(c) for c in clients))

    async def _close_one(self, c: _Client) -> None:
        if c.writer is not None:
            c.writer.cancel()
        # A client that reads nothing would hold close() on its full socket: give up
        # after a while (the connection is then cut).
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(
                c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown"),
                self.close_timeout,
            )


def _asks_snapshot(text: str) -> bool:
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "snapshot"


# Where the application keeps its hub (the daemon notifies it; a logout re-checks it).
LIVE_HUB = web.AppKey("live_hub", LiveHub)
