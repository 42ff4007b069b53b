"""The calls table: finished calls written as rows, one per (server, linkedid).

Rows only: a finished ``CallRecord`` becomes its row in the telephony domain
(``callcenter.telephony.callrows.call_row``), so the store knows no domain object.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, Engine, Insert, Table, and_, insert
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.store.models import Call

TABLE: Table = Call.__table__  # type: ignore[assignment]
_UPDATABLE = [c.name for c in TABLE.columns if c.name not in ("id", "server_id", "linkedid")]


def _replaces(new: Any) -> ColumnElement[bool]:
    old = TABLE.c
    real_over_estimate = old.estimated | ~new.estimated
    live_kept = (new.source == "ami") | (old.source == "pbx") | old.estimated
    return and_(real_over_estimate, live_kept | (old.outcome == "unknown"))


def upsert_statement(engine: Engine) -> Insert:
    """INSERT, replacing the row of the same (server, linkedid): rebuilding is idempotent.

    An estimate never replaces a record with real times: a call the PBX record completed
    after a gap keeps them when the live tracker later writes its own estimate of it. And
    the PBX record never replaces a call seen live (AMI also has its hold times), unless
    the live one was an estimate or ended unseen (``unknown``).
    """
    return _upsert(engine.dialect.name)


@functools.cache
def _upsert(dialect: str) -> Insert:
    # Built once per dialect: building it (30 columns, the WHERE) took 0.4 ms, and a new
    # statement is keyed anew for SQLAlchemy's compiled cache at every execute, at every
    # write of the live calls (py-spy at 20 calls/s: 5% of the daemon's CPU). A statement
    # is immutable, so one serves every thread.
    if dialect == "postgresql":
        pg = postgresql.insert(TABLE)
        return pg.on_conflict_do_update(
            index_elements=["server_id", "linkedid"],
            set_={name: pg.excluded[name] for name in _UPDATABLE},
            where=_replaces(pg.excluded),
        )
    if dialect == "sqlite":
        lite = sqlite.insert(TABLE)
        return lite.on_conflict_do_update(
            index_elements=["server_id", "linkedid"],
            set_={name: lite.excluded[name] for name in _UPDATABLE},
            where=_replaces(lite.excluded),
        )
    return insert(TABLE)


def write_calls(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        with engine.begin() as conn:
            conn.execute(upsert_statement(engine), rows)
