"""Bearer tokens: who is calling the API, and as which role.

A token is 32 random bytes (URL-safe text), shown once when it is made and stored only
as its SHA-256: a copy of the database does not let anyone call the API. A request's
token is found by its hash, so no stored secret is ever compared byte by byte with
what the client sent (nothing to time), and a revoked token stops working at once (no
cache).

Roles: ``agent`` acts only on its own incidents (its ``agent_id``), ``supervisor`` and
``admin`` on all. The principal's ``actor`` is what history records as "who did it".

The pages (``callcenter.web.pages``) cannot keep a bearer token safely in a browser: a
token pasted into the login form is exchanged for a session instead (``SessionStore``),
a random id in an HttpOnly, SameSite=Strict cookie. A browser sends that cookie by
itself, so a session-authenticated request that changes anything must also carry the
session's CSRF token in ``X-CSRF-Token``, and a request from another origin is refused.
A session remembers which token opened it, and each request re-checks that token: a
revoked token ends its sessions at once, as it stops its bearer use.

The daemon keeps sessions in the database (``DbSessionStore``, table ``page_sessions``,
by the hash of their id): a restart, or another daemon on the same database, keeps the
pages logged in.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy import Engine, Table, delete, func, insert, select, update

from callcenter.store.models import ApiTokenRow, PageSessionRow
from callcenter.web.errors import ApiError

log = structlog.get_logger("callcenter.web")

Role = Literal["agent", "supervisor", "admin", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
# Who acts on everything.
STAFF: tuple[Role, ...] = ("supervisor", "admin")
# Who reads everything: the staff, and the SLA auditors, who change nothing.
READERS: tuple[Role, ...] = ("supervisor", "admin", "auditor")
TOKEN_BYTES = 32
# Far longer than any token we make: a longer header is refused without a query.
MAX_TOKEN_LENGTH = 256


TOKENS: Table = ApiTokenRow.__table__  # type: ignore[assignment]
SESSIONS: Table = PageSessionRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as."""

    role: Role
    agent_id: str | None  # for role agent: the agent it acts as
    name: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def sees_all(self) -> bool:
        """Reads every agent's calls and incidents (staff and auditors)."""
        return self.role in READERS

    @property
    def read_only(self) -> bool:
        return self.role == "auditor"

    @property
    def actor(self) -> str:
        """Recorded in history: an agent by its agent id (as calls record it), else the name."""
        if self.role == "agent" and self.agent_id:
            return self.agent_id
        return self.name

    def may_act_on(self, agent_id: str | None) -> bool:
        """An agent only on what is its own; supervisors and admins on everything."""
        return self.is_staff or (self.agent_id is not None and agent_id == self.agent_id)

    def may_read(self, agent_id: str | None) -> bool:
        """An agent only what is its own; staff and auditors everything."""
        return self.sees_all or (self.agent_id is not None and agent_id == self.agent_id)


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A stored token as listed: everything but the token (which is not stored)."""

    id: int
    name: str
    role: Role
    agent_id: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(self.role, self.agent_id, self.name)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utc(at: datetime | None) -> datetime | None:
    # SQLite hands times back naive (they were stored in UTC).
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _role(value: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise ValueError(f"role: {value!r} is not one of {', '.join(ROLES)}")


def _token(r: Any) -> ApiToken:
    created = _utc(r.created_at)
    assert created is not None
    return ApiToken(r.id, r.name, _role(r.role), r.agent_id, created, _utc(r.revoked_at))


class TokenStore:
    """The ``api_tokens`` table. Synchronous: the web layer calls it in a thread."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))

    def create(self, name: str, role: str, agent_id: str | None = None) -> tuple[str, ApiToken]:
        """A new token: (the token itself, to be shown once and never again; its record)."""
        name = name.strip()
        if not name or len(name) > 80:
            raise ValueError("name: 1 to 80 characters")
        checked = _role(role)
        if agent_id is not None and not (agent_id.strip() and len(agent_id) <= 40):
            raise ValueError("agent_id: 1 to 40 characters")
        if checked == "agent" and agent_id is None:
            raise ValueError("agent_id: an agent token needs the agent it acts as")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        row = {
            "token_hash": hash_token(token),
            "name": name,
            "role": checked,
            "agent_id": agent_id,
            "created_at": self.clock().astimezone(UTC),
            "revoked_at": None,
        }
        with self.engine.begin() as conn:
            result = conn.execute(insert(TOKENS).values(**row))
            new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            stored = conn.execute(select(TOKENS).where(TOKENS.c.id == new_id)).one()
        return token, _token(stored)

    def revoke(self, token_id: int) -> bool:
        """Revoke a token; False if there is no such token or it was already revoked."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(TOKENS)
                .where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=self.clock().astimezone(UTC))
            )
        return result.rowcount == 1

    def lookup(self, token: str) -> Principal | None:
        """Who a presented token acts as; None for an unknown or revoked token."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = hash_token(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TOKENS).where(TOKENS.c.token_hash == digest, TOKENS.c.revoked_at.is_(None))
            ).first()
        # The database matched on the hash already; this re-check costs nothing and does
        # not depend on how the database compares strings (collation, trailing spaces).
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return _token(row).principal()

    def identify(self, token: str) -> ApiToken | None:
        """The record of a presented, active token (its id ties a login session to it)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        digest = hash_token(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TOKENS).where(TOKENS.c.token_hash == digest, TOKENS.c.revoked_at.is_(None))
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return _token(row)

    def active_principal(self, token_id: int) -> Principal | None:
        """Who token ``token_id`` acts as, while it is not revoked (a session's re-check)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TOKENS).where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
            ).first()
        return None if row is None else _token(row).principal()

    def list(self, *, include_revoked: bool = True) -> builtins.list[ApiToken]:
        q = select(TOKENS).order_by(TOKENS.c.id)
        if not include_revoked:
            q = q.where(TOKENS.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_token(r) for r in conn.execute(q)]


# -- login sessions (the pages) ---------------------------------------------------------

SESSION_COOKIE = "cc_session"
API_PREFIX = "/api/v1/"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_BYTES = 32
# A shift is 08:30-18:15; a wallboard left open all day must not log out at lunch.
SESSION_IDLE_SECONDS = 12 * 3600
SESSION_MAX_SECONDS = 24 * 3600
# Each token (a person, a wall screen) may have this many sessions at once (browsers,
# tabs that logged in again): past it, that token's least recently used one ends. One
# token never ends another's sessions, so agents logging in cannot log a supervisor out.
SESSION_PER_TOKEN = 20
# A ceiling per role, far more than the desk has people and screens, so that no flood of
# logins grows the daemon's memory without bound: at it a new login of that role is
# refused (never another session evicted), and other roles are not touched.
SESSION_LIMIT = 10_000


class TooManySessions(Exception):
    """No new session for this role now: its ceiling is reached (the login is refused)."""


@dataclass(slots=True)
class Session:
    """One browser's login: who, through which token, and its CSRF token."""

    principal: Principal
    token_id: int
    csrf: str = field(repr=False)
    created: float
    seen: float


class SessionStore:
    """Login sessions, in memory: a restart logs every page out (the daemon itself uses
    ``DbSessionStore``, which keeps the same rules in the database).

    Sessions are kept by the SHA-256 of their id, as tokens are: nothing kept here is
    what a browser presents. A token has at most ``per_token`` sessions (its least
    recently used one ends when it opens one more) and a role at most ``limit`` (a new
    login is then refused): no session is ever ended by another token's logins.
    """

    def __init__(
        self,
        *,
        idle_seconds: float = SESSION_IDLE_SECONDS,
        max_seconds: float = SESSION_MAX_SECONDS,
        limit: int = SESSION_LIMIT,
        per_token: int = SESSION_PER_TOKEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or per_token < 1:
            raise ValueError("limit and per_token: at least 1")
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.limit = limit
        self.per_token = per_token
        self.clock = clock
        # Every session, least recently used first (expired ones are swept from the front).
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        # Each token's sessions, least recently used first; and how many each role has.
        self._by_token: dict[int, OrderedDict[str, None]] = {}
        self._by_role: dict[Role, int] = dict.fromkeys(ROLES, 0)

    def __len__(self) -> int:
        return len(self._sessions)

    def count(self, *, token_id: int | None = None, role: Role | None = None) -> int:
        """How many sessions a token, or a role, has now (expired ones not yet swept)."""
        if token_id is not None:
            return len(self._by_token.get(token_id, ()))
        if role is not None:
            return self._by_role[role]
        return len(self._sessions)

    def create(self, principal: Principal, token_id: int) -> tuple[str, Session]:
        """A new session: (its id, for the cookie and nothing else; the session).

        Raises ``TooManySessions`` when the principal's role is at its ceiling."""
        now = self.clock()
        self._sweep(now)
        mine = self._by_token.get(token_id)
        if mine is not None and len(mine) >= self.per_token:
            # The token's own least recently used session makes room: nobody else's.
            self._remove(next(iter(mine)))
        if self._by_role[principal.role] >= self.limit:
            raise TooManySessions(f"{self.limit} {principal.role} sessions are open")
        session_id = secrets.token_urlsafe(SESSION_BYTES)
        session = Session(principal, token_id, secrets.token_urlsafe(SESSION_BYTES), now, now)
        key = hash_token(session_id)
        self._sessions[key] = session
        self._by_token.setdefault(token_id, OrderedDict())[key] = None
        self._by_role[principal.role] += 1
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id (and it was used now); None if none, or expired."""
        if not session_id or len(session_id) > MAX_TOKEN_LENGTH:
            return None
        key = hash_token(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        if self._expired(session, now):
            self._remove(key)
            return None
        session.seen = now
        self._sessions.move_to_end(key)
        self._by_token[session.token_id].move_to_end(key)
        return session

    def drop(self, session_id: str | None) -> bool:
        if not session_id or len(session_id) > MAX_TOKEN_LENGTH:
            return False
        return self._remove(hash_token(session_id))

    # The request handlers' side: in memory these run on the loop (no lock needed); the
    # database store runs them in a thread.

    async def acreate(self, principal: Principal, token_id: int) -> tuple[str, Session]:
        return self.create(principal, token_id)

    async def aget(self, session_id: str | None) -> Session | None:
        return self.get(session_id)

    async def adrop(self, session_id: str | None) -> bool:
        return self.drop(session_id)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_seconds or now - session.created > self.max_seconds

    def _sweep(self, now: float) -> None:
        """End the expired sessions at the front (the least recently used ones), so that
        sessions nobody comes back to do not count against a token or a role."""
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if not self._expired(oldest, now):
                return
            self._remove(key)

    def _remove(self, key: str) -> bool:
        session = self._sessions.pop(key, None)
        if session is None:
            return False
        mine = self._by_token.get(session.token_id)
        if mine is not None:
            mine.pop(key, None)
            if not mine:
                del self._by_token[session.token_id]
        self._by_role[session.principal.role] -= 1
        return True


# The database store's cache is pruned of stale entries past this size.
CACHE_PRUNE_AT = 1000


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class DbSessionStore(SessionStore):
    """Login sessions in the database (``page_sessions``), shared by every daemon on it
    and kept across restarts; the same rules as ``SessionStore`` (idle and absolute
    expiry, ``per_token`` sessions a token, ``limit`` a role).

    Only the SHA-256 of a session id is stored, never the id. Each request's session is
    read from the database, unless this process read it less than ``cache_seconds``
    ago (a page's burst of requests costs one read); its last use is written at most
    every ``touch_seconds`` (idle expiry is hours). A log-out here ends the session here
    at once and on the other daemons within ``cache_seconds``; a revoked token ends its
    sessions at once everywhere, as before (each request re-checks the token).
    Synchronous: the handlers call ``acreate``/``aget``/``adrop``, which run in a thread.
    The caps are checked in the login's transaction: two logins racing on two daemons
    may pass a cap by one.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        idle_seconds: float = SESSION_IDLE_SECONDS,
        max_seconds: float = SESSION_MAX_SECONDS,
        limit: int = SESSION_LIMIT,
        per_token: int = SESSION_PER_TOKEN,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 2.0,
        touch_seconds: float = 60.0,
    ) -> None:
        super().__init__(
            idle_seconds=idle_seconds,
            max_seconds=max_seconds,
            limit=limit,
            per_token=per_token,
            clock=clock,
        )
        self.engine = engine
        self.cache_seconds = cache_seconds
        self.touch_seconds = touch_seconds
        self._lock = threading.Lock()
        # hash -> (the session, when this process last read or wrote it)
        self._cache: dict[str, tuple[Session, float]] = {}

    def __len__(self) -> int:
        return self.count()

    def _expires(self, created: float, seen: float) -> datetime:
        return _at(min(seen + self.idle_seconds, created + self.max_seconds))

    def count(self, *, token_id: int | None = None, role: Role | None = None) -> int:
        """How many live sessions a token, or a role, has now (or all)."""
        q = select(func.count()).select_from(SESSIONS)
        q = q.where(SESSIONS.c.expires_at >= _at(self.clock()))
        if token_id is not None:
            q = q.where(SESSIONS.c.token_id == token_id)
        elif role is not None:
            q = q.where(SESSIONS.c.role == role)
        with self.engine.connect() as conn:
            return int(conn.scalar(q) or 0)

    def create(self, principal: Principal, token_id: int) -> tuple[str, Session]:
        now = self.clock()
        at = _at(now)
        with self.engine.begin() as conn:
            # Sessions nobody came back to do not count against a token or a role.
            conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < at))
            mine = list(
                conn.scalars(
                    select(SESSIONS.c.id_hash)
                    .where(SESSIONS.c.token_id == token_id)
                    .order_by(SESSIONS.c.seen_at, SESSIONS.c.created_at)
                )
            )
            if len(mine) >= self.per_token:
                # The token's own least recently used sessions make room: nobody else's.
                ended = mine[: len(mine) - self.per_token + 1]
                conn.execute(delete(SESSIONS).where(SESSIONS.c.id_hash.in_(ended)))
                with self._lock:
                    for key in ended:
                        self._cache.pop(key, None)
            held = conn.scalar(
                select(func.count()).select_from(SESSIONS).where(SESSIONS.c.role == principal.role)
            )
            if int(held or 0) >= self.limit:
                raise TooManySessions(f"{self.limit} {principal.role} sessions are open")
            session_id = secrets.token_urlsafe(SESSION_BYTES)
            session = Session(principal, token_id, secrets.token_urlsafe(SESSION_BYTES), now, now)
            key = hash_token(session_id)
            conn.execute(
                insert(SESSIONS).values(
                    id_hash=key,
                    token_id=token_id,
                    role=principal.role,
                    csrf=session.csrf,
                    created_at=at,
                    seen_at=at,
                    expires_at=self._expires(now, now),
                )
            )
        with self._lock:
            self._cache[key] = (session, now)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > MAX_TOKEN_LENGTH:
            return None
        key = hash_token(session_id)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            session, checked = cached
            if self._expired(session, now):
                self._remove(key)
                return None
            if now - checked < self.cache_seconds:
                session.seen = now
                return session
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SESSIONS, TOKENS.c.name, TOKENS.c.role.label("token_role"))
                .add_columns(TOKENS.c.agent_id)
                .join(TOKENS, TOKENS.c.id == SESSIONS.c.token_id)
                .where(SESSIONS.c.id_hash == key)
            ).first()
        if row is None or not hmac.compare_digest(row.id_hash, key):
            with self._lock:
                self._cache.pop(key, None)
            return None
        created, seen = _utc(row.created_at), _utc(row.seen_at)
        assert created is not None
        assert seen is not None
        principal = Principal(_role(row.token_role), row.agent_id, row.name)
        session = Session(principal, row.token_id, row.csrf, created.timestamp(), seen.timestamp())
        if self._expired(session, now):
            self._remove(key)
            return None
        if now - session.seen >= self.touch_seconds:
            with self.engine.begin() as conn:
                conn.execute(
                    update(SESSIONS)
                    .where(SESSIONS.c.id_hash == key)
                    .values(seen_at=_at(now), expires_at=self._expires(session.created, now))
                )
        session.seen = now
        with self._lock:
            if len(self._cache) >= CACHE_PRUNE_AT:
                # Only entries read in the last cache_seconds serve: the rest go.
                stale = [k for k, (_, t) in self._cache.items() if now - t >= self.cache_seconds]
                for k in stale:
                    del self._cache[k]
            self._cache[key] = (session, now)
        return session

    def _remove(self, key: str) -> bool:
        with self._lock:
            self._cache.pop(key, None)
        with self.engine.begin() as conn:
            result = conn.execute(delete(SESSIONS).where(SESSIONS.c.id_hash == key))
        return result.rowcount == 1

    async def acreate(self, principal: Principal, token_id: int) -> tuple[str, Session]:
        return await asyncio.to_thread(self.create, principal, token_id)

    async def aget(self, session_id: str | None) -> Session | None:
        return await asyncio.to_thread(self.get, session_id)

    async def adrop(self, session_id: str | None) -> bool:
        return await asyncio.to_thread(self.drop, session_id)


def same_origin(request: web.Request) -> bool:
    """False when the browser says the request comes from another site.

    Sec-Fetch-Site is set by the browser alone (no page can forge it) and is sent with
    every request by current browsers, websocket handshakes included; without it (an
    older browser), Origin, which browsers send with cross-origin requests. Neither
    header: not a browser's cross-site request.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")  # "none": typed in, or a bookmark
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    host = urlsplit(origin).netloc
    return bool(host) and host.lower() == request.host.lower()


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(
        presented.encode("utf-8"), session.csrf.encode("utf-8")
    )


async def session_principal(
    request: web.Request, tokens: TokenStore, sessions: SessionStore, session_id: str
) -> Principal:
    """Who a cookie-authenticated request acts as, or the refusal it gets."""
    session = await sessions.aget(session_id)
    if session is None:
        raise _unauthorized("the session has ended; log in again")
    if not same_origin(request):
        log.warning("api.cross_origin_refused", method=request.method, path=request.path)
        raise ApiError(403, "a request from another site is refused", code="cross_origin")
    if request.method in UNSAFE_METHODS and not csrf_ok(session, request.headers.get(CSRF_HEADER)):
        log.warning("api.csrf_refused", method=request.method, path=request.path)
        raise ApiError(403, f"this needs the page's {CSRF_HEADER} header", code="csrf_refused")
    who = await asyncio.to_thread(tokens.active_principal, session.token_id)
    if who is None:  # the token that opened it was revoked: so is the session
        await sessions.adrop(session_id)
        log.warning("api.session_token_revoked", path=request.path)
        raise _unauthorized("the session's token was revoked; log in again")
    request[TOKEN_ID] = session.token_id
    return who


# -- the request side -----------------------------------------------------------------

_H = TypeVar("_H", bound=Callable[..., Any])
_PUBLIC = "__callcenter_public__"

# RequestKey (aiohttp >= 3.13) keeps request storage typed and silences the warning that
# newer aiohttp gives for plain string keys; older ones only have string keys.
PRINCIPAL: Any = (
    web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "principal"
)


# The id of the token a session-authenticated request acts through (per-token limits).
TOKEN_ID: Any = web.RequestKey("token_id", int) if hasattr(web, "RequestKey") else "token_id"


def public(handler: _H) -> _H:
    """Mark a handler as needing no bearer token (it authenticates otherwise, or not)."""
    setattr(handler, _PUBLIC, True)
    return handler


def principal(request: web.Request) -> Principal:
    p: Principal = request[PRINCIPAL]
    return p


def require_role(request: web.Request, roles: Sequence[Role]) -> Principal:
    p = principal(request)
    if p.role not in roles:
        names = ", ".join(roles[:-1]) + f" or {roles[-1]}" if len(roles) > 1 else roles[0]
        raise ApiError(403, f"this needs the role {names} (you are {p.role})")
    return p


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="callcenter"'})


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        raise _unauthorized("a bearer token is needed (Authorization: Bearer <token>)")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be: Bearer <token>")
    return token.strip()


def auth_middleware(tokens: TokenStore, sessions: SessionStore | None = None) -> Middleware:
    """Bearer tokens; and, given ``sessions``, the pages' login sessions (a request with
    an Authorization header is always taken as a bearer request: no cookie, no CSRF)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        # No route (404/405): nothing to protect, let the router's error through.
        if match.http_exception is not None:
            return await handler(request)
        # A request with an Authorization header is a bearer request, cookie or not.
        session_id = (
            None if "Authorization" in request.headers else request.cookies.get(SESSION_COOKIE)
        )
        if getattr(match.handler, _PUBLIC, False):
            # An API handler that authenticates itself (the live websocket: a browser's
            # WebSocket cannot send a bearer header) is given the page's session if it
            # passes every check; if not, the handler decides as without one.
            if sessions is not None and session_id and request.path.startswith(API_PREFIX):
                with contextlib.suppress(ApiError):
                    request[PRINCIPAL] = await session_principal(
                        request, tokens, sessions, session_id
                    )
            return await handler(request)
        if sessions is not None and session_id:
            request[PRINCIPAL] = await session_principal(request, tokens, sessions, session_id)
            return await handler(request)
        token = _bearer(request)
        who = await asyncio.to_thread(tokens.lookup, token)
        if who is None:
            # Never the token itself: only that one was refused, and where.
            log.warning("api.token_refused", method=request.method, path=request.path)
            raise _unauthorized("the token is unknown or revoked")
        request[PRINCIPAL] = who
        return await handler(request)

    return middleware
