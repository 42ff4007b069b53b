"""Bearer tokens: stored hashed, shown once, refused when missing, unknown or revoked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text

from callcenter.store.models import Base
from callcenter.web.auth import TOKENS, Principal, TokenStore
from tests.unit.web.support import Api, Clock


def test_metadata_matches_the_migrations(engine: Engine) -> None:
    assert "api_tokens" in Base.metadata.tables
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_only_the_hash_is_stored(engine: Engine, tmp_path: Path) -> None:
    tokens = TokenStore(engine, clock=Clock())
    token, record = tokens.create("tanaka", "agent", "1001")
    assert len(token) >= 43  # 32 random bytes, URL-safe
    with engine.connect() as conn:
        row = conn.execute(select(TOKENS).where(TOKENS.c.id == record.id)).one()
        cells = [str(v) for r in conn.execute(text("SELECT * FROM api_tokens")) for v in r]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in c for c in cells)
    engine.dispose()  # fold the WAL in, then look at the bytes on disk
    assert token.encode() not in (tmp_path / "api.db").read_bytes()
    assert token not in repr(record)


def test_lookup_gives_the_principal_until_revoked(engine: Engine) -> None:
    tokens = TokenStore(engine, clock=Clock())
    token, record = tokens.create("tanaka", "agent", "1001")
    other, _ = tokens.create("suzuki", "supervisor")
    assert token != other
    who = tokens.lookup(token)
    assert who == Principal("agent", "1001", "tanaka")
    assert who.actor == "1001"
    assert tokens.lookup(other) == Principal("supervisor", None, "suzuki")
    assert tokens.lookup(token + "x") is None
    assert tokens.lookup("") is None
    assert tokens.revoke(record.id) is True
    assert tokens.revoke(record.id) is False  # already revoked
    assert tokens.revoke(9999) is False
    assert tokens.lookup(token) is None
    listed = tokens.list()
    assert [(t.name, t.active) for t in listed] == [("tanaka", False), ("suzuki", True)]
    assert [t.name for t in tokens.list(include_revoked=False)] == ["suzuki"]


@pytest.mark.parametrize(
    ("name", "role", "agent_id", "problem"),
    [
        ("x", "root", None, "role"),
        ("x", "agent", None, "agent_id"),
        ("", "admin", None, "name"),
        ("x" * 81, "admin", None, "name"),
        ("x", "agent", "", "agent_id"),
    ],
)
def test_create_refuses_bad_tokens(
    engine: Engine, name: str, role: str, agent_id: str | None, problem: str
) -> None:
    with pytest.raises(ValueError, match=f"^{problem}:"):
        TokenStore(engine).create(name, role, agent_id)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer    ",
        "Bearer not-a-token-we-made",
        "Bearer " + "x" * 5000,
    ],
)
async def test_requests_without_a_valid_token_are_401(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = await api.call("GET", "/incidents", who=None, headers=headers)
    assert reply.status == 401
    assert reply.error["code"] == "unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(reply.body) == {"error"}


async def test_a_revoked_token_stops_at_once(api: Api) -> None:
    assert (await api.call("GET", "/incidents", who="a1")).status == 200
    record = next(t for t in api.tokens.list() if t.name == "tanaka")
    api.tokens.revoke(record.id)
    reply = await api.call("GET", "/incidents", who="a1")
    assert reply.status == 401
    assert reply.error["message"] == "the token is unknown or revoked"


async def test_the_scheme_is_case_insensitive(api: Api) -> None:
    reply = await api.call(
        "GET", "/incidents", who=None, headers={"Authorization": f"bearer {api.token['sup']}"}
    )
    assert reply.status == 200


async def test_the_openapi_description_needs_no_token(api: Api) -> None:
    reply = await api.call("GET", "/openapi.json", who=None)
    assert reply.status == 200
    assert reply.body["openapi"] == "3.1.0"
