"""Leases: one holder at a time for a named job, whatever the number of daemons sharing
the database (several PBXs, or two daemons for one PBX).

``acquire`` is one statement, atomic on SQLite and PostgreSQL alike::

    INSERT INTO leases (name, holder, expires_at) VALUES (...)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.expires_at < :now OR leases.holder = :holder
    RETURNING holder

A free name (no row, or an expired one) goes to the caller; a held one stays with its
holder, who may renew it (the same call) or ``release`` it. A holder that dies keeps the
name only until its lease runs out. The database's clock is not used: each daemon's own
(NTP-kept) time is, so the time to live must be far longer than any clock skew.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.store.models import LeaseRow

LEASES: Table = LeaseRow.__table__  # type: ignore[assignment]
_C = LEASES.c


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("lease times must be timezone-aware")
    return value.astimezone(UTC)


_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def acquire_on(conn: Connection, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew ``name`` for ``holder`` until ``now + ttl``, in the caller's
    transaction; False while another holder's lease runs."""
    if not name or not holder or len(name) > 200 or len(holder) > 200:
        raise ValueError("lease name and holder: 1 to 200 characters")
    if ttl <= timedelta(0):
        raise ValueError("a lease lasts a positive time")
    at = _utc(now)
    values = {"name": name, "holder": holder, "expires_at": at + ttl}
    free = (_C.expires_at < at) | (_C.holder == holder)
    # The same upsert on both databases the store runs on (db.make_engine).
    insert = _INSERTS.get(conn.dialect.name)
    if insert is None:
        raise ValueError(f"the store runs on SQLite or PostgreSQL, not {conn.dialect.name}")
    ins = insert(LEASES).values(**values)
    stmt = ins.on_conflict_do_update(
        index_elements=[_C.name],
        set_={"holder": ins.excluded.holder, "expires_at": ins.excluded.expires_at},
        where=free,
    ).returning(_C.holder)
    return conn.execute(stmt).scalar() == holder


def acquire(engine: Engine, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """``acquire_on`` in a transaction of its own."""
    with engine.begin() as conn:
        return acquire_on(conn, name, holder, now, ttl)


def release(engine: Engine, name: str, holder: str) -> bool:
    """Give ``name`` up (only its holder can); False if ``holder`` did not hold it."""
    with engine.begin() as conn:
        result = conn.execute(delete(LEASES).where(_C.name == name, _C.holder == holder))
    return result.rowcount == 1


def holder(engine: Engine, name: str, now: datetime) -> str | None:
    """Who holds ``name`` now (None: nobody, or the lease ran out)."""
    with engine.connect() as conn:
        return conn.execute(
            select(_C.holder).where(_C.name == name, _C.expires_at >= _utc(now))
        ).scalar()


def purge_expired(engine: Engine, before: datetime) -> int:
    """Delete the leases that ran out before ``before``; returns how many. (A lease that
    ran out is free already: this only keeps the table small.)"""
    with engine.begin() as conn:
        result = conn.execute(delete(LEASES).where(_C.expires_at < _utc(before)))
    return int(result.rowcount)
