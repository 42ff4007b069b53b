"""The pages' sessions in the database (``DbSessionStore``), on SQLite and PostgreSQL:
the same rules as in memory, and a session outlives its daemon (restart, or another
daemon on the same database)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, delete, select

from callcenter.incidents.store import IncidentStore
from callcenter.web.app import make_app
from callcenter.web.auth import (
    SESSION_COOKIE,
    SESSIONS,
    DbSessionStore,
    Principal,
    TokenStore,
    TooManySessions,
)
from callcenter.web.deps import ApiDeps
from callcenter.web.page_kit import LOGIN_COOKIE
from tests.support.postgres import migrated_postgres
from tests.unit.web.support import CALENDAR, Clock


class Ticks:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    with migrated_postgres() as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Engine:
    if request.param == "sqlite":
        sqlite: Engine = request.getfixturevalue("engine")
        return sqlite
    pg: Engine = request.getfixturevalue("pg")
    with pg.begin() as conn:
        conn.execute(delete(SESSIONS))
    return pg


def people(db: Engine) -> tuple[TokenStore, dict[str, tuple[Principal, int]]]:
    tokens = TokenStore(db)
    made = {}
    for key, who in {
        "a1": ("tanaka", "agent", "1001"),
        "a2": ("sato", "agent", "1002"),
        "a3": ("kato", "agent", "1003"),
        "sup": ("suzuki", "supervisor", None),
    }.items():
        _, record = tokens.create(*who)
        made[key] = (record.principal(), record.id)
    return tokens, made


def rows(db: Engine) -> list[dict[str, object]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(SESSIONS))]


def test_kept_by_hash_and_shared_by_two_daemons(db: Engine) -> None:
    ticks = Ticks()
    _, who = people(db)
    a = DbSessionStore(db, clock=ticks, cache_seconds=2)
    b = DbSessionStore(db, clock=ticks, cache_seconds=2)
    sid, made = a.create(*who["a1"])
    [row] = rows(db)
    assert row["id_hash"] == hashlib.sha256(sid.encode()).hexdigest()
    assert sid not in repr(rows(db))  # the id a browser presents is not stored
    assert sid not in repr(a.__dict__)
    seen = b.get(sid)  # another daemon (or this one restarted) knows it
    assert seen is not None
    assert (seen.principal, seen.token_id, seen.csrf) == (made.principal, made.token_id, made.csrf)
    # A log-out on one daemon: at once there, and on the other once its cache is stale.
    assert b.drop(sid) is True
    assert b.get(sid) is None
    ticks.now += 2
    assert a.get(sid) is None
    assert a.drop(sid) is False
    assert rows(db) == []
    assert a.get("") is None
    assert a.get("x" * 300) is None


def test_sessions_end_when_idle_or_too_old(db: Engine) -> None:
    ticks = Ticks()
    _, who = people(db)
    store = DbSessionStore(
        db, idle_seconds=60, max_seconds=300, clock=ticks, cache_seconds=0, touch_seconds=0
    )
    other = DbSessionStore(db, idle_seconds=60, max_seconds=300, clock=ticks, cache_seconds=0)
    sid, _ = store.create(*who["a1"])
    ticks.now += 59
    assert store.get(sid) is not None  # used: idle time starts again (in the database)
    ticks.now += 59
    assert other.get(sid) is not None
    ticks.now += 61
    assert other.get(sid) is None
    assert len(store) == 0
    sid, _ = store.create(*who["a1"])
    for _ in range(6):
        ticks.now += 55
        store.get(sid)
    assert store.get(sid) is None  # 330 s after it began, however busy


def test_a_tokens_sessions_are_capped_at_its_least_recently_used(db: Engine) -> None:
    ticks = Ticks()
    _, who = people(db)
    store = DbSessionStore(db, per_token=3, clock=ticks, cache_seconds=0, touch_seconds=0)
    other, _ = store.create(*who["a2"])
    ids = []
    for _ in range(3):
        ticks.now += 1
        ids.append(store.create(*who["a1"])[0])
    ticks.now += 1
    store.get(ids[0])  # used: the second is now this token's least recently used
    ticks.now += 1
    newest, _ = store.create(*who["a1"])
    assert store.count(token_id=who["a1"][1]) == 3
    assert store.get(ids[1]) is None
    assert all(store.get(i) is not None for i in (ids[0], ids[2], newest))
    assert store.get(other) is not None  # another token's session is not touched


def test_a_roles_ceiling_refuses_new_logins_and_expired_ones_do_not_count(db: Engine) -> None:
    ticks = Ticks()
    _, who = people(db)
    store = DbSessionStore(db, limit=2, idle_seconds=60, clock=ticks)
    first, _ = store.create(*who["a1"])
    second, _ = store.create(*who["a2"])
    with pytest.raises(TooManySessions):
        store.create(*who["a3"])  # refused: nobody's session is ended
    assert store.get(first) is not None
    assert store.get(second) is not None
    sup, _ = store.create(*who["sup"])  # another role is not held up
    assert store.count(role="agent") == 2
    ticks.now += 61
    third, _ = store.create(*who["a3"])  # the two idle ones are swept first
    assert store.get(third) is not None
    assert store.count(role="agent") == 1
    assert store.get(sup) is None  # it was idle too


async def _login(client: TestClient[web.Request, web.Application], token: str) -> str:
    page = await client.get("/login?lang=en")
    form = {"nonce": page.cookies[LOGIN_COOKIE].value, "token": token}
    async with client.post("/login", data=form, allow_redirects=False) as r:
        assert r.status == 303
        return r.cookies[SESSION_COOKIE].value


async def _status(client: TestClient[web.Request, web.Application], sid: str) -> int:
    client.session.cookie_jar.clear()
    async with client.get("/api/v1/incidents", headers={"Cookie": f"{SESSION_COOKIE}={sid}"}) as r:
        return r.status


async def test_a_page_stays_logged_in_across_a_restart_and_another_daemon(db: Engine) -> None:
    tokens = TokenStore(db, clock=Clock())
    sup, record = tokens.create("suzuki", "supervisor")

    def app() -> TestClient[web.Request, web.Application]:
        deps = ApiDeps(incidents=IncidentStore(db), tokens=tokens, calendar=CALENDAR, clock=Clock())
        return TestClient(TestServer(make_app(deps)))

    async with app() as first:
        sid = await _login(first, sup)
        assert await _status(first, sid) == 200
    # The daemon restarted (a new app, nothing in memory), and another daemon beside it.
    async with app() as restarted, app() as other:
        assert await _status(restarted, sid) == 200
        assert await _status(other, sid) == 200
        assert await _status(other, "not-a-session") == 401
        # A revoked token ends its sessions at once, on every daemon.
        assert tokens.revoke(record.id)
        assert await _status(restarted, sid) == 401
        assert await _status(other, sid) == 401
    assert rows(db) == []  # the revoked token's session is gone from the database too
