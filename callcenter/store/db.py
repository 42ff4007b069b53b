"""Engines and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, Insert, Table, create_engine, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from callcenter.backoff import backoff
from callcenter.store.settings import DatabaseConfig

log = structlog.get_logger("callcenter.store")

MIGRATIONS = Path(__file__).parent / "migrations"


def dump_json(value: Any) -> str:
    # Keep Japanese text readable in the database instead of \\u escapes.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3, the driver this project installs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    # A server's connection can be cut (a restart, a failover): pinged before use. A
    # file's cannot, and a ping per transaction was a round trip for nothing.
    kwargs.setdefault("pool_pre_ping", not url.startswith("sqlite"))
    engine = create_engine(url, json_serializer=dump_json, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the metrics queries read while the daemon writes; NORMAL is durable
    # across an application crash, which is the failure that matters here.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call at every start."""
    command.upgrade(alembic_config(engine), revision)


@functools.cache
def insert_or_skip(dialect: str, table: Table, keys: tuple[str, ...]) -> Insert:
    """INSERT that skips a row whose ``keys`` (a unique index) are already stored: the
    way retries and replays stay idempotent (ON CONFLICT DO NOTHING on both databases).
    Built once per dialect, table and keys (a statement is immutable): the writers ask
    for it at every batch."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return insert(table)


async def migrate_when_up(engine: Engine, db: DatabaseConfig, stop: asyncio.Event) -> bool:
    """Bring the schema up to date, waiting (with backoff) for a database that is not up
    yet; False if ``stop`` came first."""
    attempt = 0
    while True:
        delay = backoff(attempt, db.retry_min, db.retry_max * 4)
        attempt += 1
        try:
            await asyncio.to_thread(migrate, engine)
            return True
        except (SQLAlchemyError, OSError) as exc:
            # The message names host and port, never a password (not part of it).
            log.warning(
                "db.unavailable", error=str(exc).splitlines()[0][:200], retry_in=round(delay, 2)
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return False
