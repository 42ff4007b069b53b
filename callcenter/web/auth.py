"""Bearer tokens: who is calling the API, and as which role.

A token is 32 random bytes (URL-safe text), shown once when it is made and stored only
as its SHA-256: a copy of the database does not let anyone call the API. A request's
token is found by its hash, so no stored secret is ever compared byte by byte with
what the client sent (nothing to time), and a revoked token stops working at once (no
cache).

Roles: ``agent`` acts only on its own incidents (its ``agent_id``), ``supervisor`` and
``admin`` on all. The principal's ``actor`` is what history records as "who did it".
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy import DateTime, Engine, Index, String, Table, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, BigId
from callcenter.web.errors import ApiError

log = structlog.get_logger("callcenter.web")

Role = Literal["agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
STAFF: tuple[Role, ...] = ("supervisor", "admin")
TOKEN_BYTES = 32
# Far longer than any token we make: a longer header is refused without a query.
MAX_TOKEN_LENGTH = 256


class ApiTokenRow(Base):
    """One API token (its hash only); revoked ones are kept, for the audit trail."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ux_api_tokens_hash", "token_hash", unique=True),)


TOKENS: Table = ApiTokenRow.__table__  # type: ignore[assignment]


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
    def actor(self) -> str:
        """Recorded in history: an agent by its agent id (as calls record it), else the name."""
        if self.role == "agent" and self.agent_id:
            return self.agent_id
        return self.name

    def may_act_on(self, agent_id: str | None) -> bool:
        """An agent only on what is its own; supervisors and admins on everything."""
        return self.is_staff or (self.agent_id is not None and agent_id == self.agent_id)


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

    def list(self, *, include_revoked: bool = True) -> builtins.list[ApiToken]:
        q = select(TOKENS).order_by(TOKENS.c.id)
        if not include_revoked:
            q = q.where(TOKENS.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_token(r) for r in conn.execute(q)]


# -- the request side -----------------------------------------------------------------

_H = TypeVar("_H", bound=Callable[..., Any])
_PUBLIC = "__callcenter_public__"

# RequestKey (aiohttp >= 3.13) keeps request storage typed and silences the warning that
# newer aiohttp gives for plain string keys; older ones only have string keys.
PRINCIPAL: Any = (
    web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "principal"
)


def public(handler: _H) -> _H:
    """Mark a handler as needing no bearer token (it authenticates otherwise, or not)."""
    setattr(handler, _PUBLIC, True)
    return handler


def principal(request: web.Request) -> Principal:
    p: Principal = request[PRINCIPAL]
    return p


def require_role(request: web.Request, roles: Collection[Role]) -> Principal:
    p = principal(request)
    if p.role not in roles:
        raise ApiError(403, f"this needs the role {' or '.join(roles)} (you are {p.role})")
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


def auth_middleware(tokens: TokenStore) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        # No route (404/405): nothing to protect, let the router's error through.
        if match.http_exception is not None or getattr(match.handler, _PUBLIC, False):
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
