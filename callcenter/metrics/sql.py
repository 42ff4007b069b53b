"""The call figures computed by the database: one aggregate query over the calls table.

The query returns exactly the counts and sums of ``CallFigures`` (SUM(CASE ...), COUNT,
MAX), so rates are derived by the same code whether the figures come from SQL or from
``compute_figures``, and no call row ever travels to Python. Portable SQLAlchemy Core:
the same statement runs on SQLite and PostgreSQL.

Days are 'YYYY-MM-DD' strings in the service time zone (the ``local_day`` column), so a
period [day_from, day_to) is a plain string range, served by the index on local_day.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    and_,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
)

from callcenter.metrics.figures import OUTCOMES, CallFigures, Grouping, GroupKey, sort_key
from callcenter.metrics.settings import MetricsConfig
from callcenter.store.calls import TABLE

_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
C = TABLE.c
_ONE: ColumnElement[int] = literal_column("1")
_ZERO: ColumnElement[int] = literal_column("0")
_ZERO_F: ColumnElement[float] = literal_column("0.0")
_ANSWERED = C.outcome == "answered"

# Constants are inlined, not bound: PostgreSQL only matches a GROUP BY expression with the
# selected one when they are the same text, and two bound parameters never are.
_KEYS: dict[Grouping, ColumnElement[Any]] = {
    "queue": C.queue,
    "agent": C.agent,
    "hour": C.local_hour,
    "day": C.local_day,
    "month": func.substr(C.local_day, _ONE, literal_column("7")),  # YYYY-MM
}


def check_day(text: str) -> str:
    """A day as 'YYYY-MM-DD', exactly: another spelling would compare wrongly as a string."""
    try:
        if not _DAY_RE.fullmatch(text):
            raise ValueError("expected YYYY-MM-DD")
        date.fromisoformat(text)  # rejects 2024-13-01, 2024-02-30
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a day ({exc})") from None
    return text


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, _ONE), else_=_ZERO)), _ZERO)


# What a call counts for, one expression each: the figures sum them, and the call
# detail (metrics.detail) shows them per call, so any rate can be recomputed from its rows.
COUNTS_AS_BUSY: ColumnElement[bool] = and_(_ANSWERED, C.heard_busy.is_(true()))


def within_sl(cfg: MetricsConfig) -> ColumnElement[bool]:
    return and_(_ANSWERED, C.wait_seconds <= cfg.service_level_seconds)


def _columns(cfg: MetricsConfig) -> list[ColumnElement[Any]]:
    answered_wait = case((_ANSWERED, C.wait_seconds))
    answered_handle = case((_ANSWERED, C.handle_seconds))
    return [
        *(_count(C.outcome == o).label(o) for o in OUTCOMES),
        _count(COUNTS_AS_BUSY).label("busy"),
        _count(within_sl(cfg)).label("answered_within_sl"),
        func.count(answered_wait).label("wait_count"),
        func.coalesce(func.sum(answered_wait), _ZERO_F).label("wait_sum"),
        func.count(answered_handle).label("handle_count"),
        func.coalesce(func.sum(answered_handle), _ZERO_F).label("handle_sum"),
        func.max(case((or_(_ANSWERED, C.outcome == "abandoned"), C.wait_seconds))).label(
            "max_wait_seconds"
        ),
    ]


def figures_statement(
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    *,
    queue: str | None = None,
    server_id: str | None = None,
    by: Grouping | None = None,
) -> Select[Any]:
    """The aggregate over calls that arrived on local days [day_from, day_to)."""
    where = [C.local_day >= check_day(day_from), C.local_day < check_day(day_to)]
    if queue is not None:
        where.append(C.queue == queue)
    if server_id is not None:
        where.append(C.server_id == server_id)
    if by is None:
        return select(*_columns(cfg)).where(*where)
    key = _KEYS[by].label("group_key")
    return select(key, *_columns(cfg)).where(*where).group_by(key)


def grouped_statement(
    cfg: MetricsConfig, day_from: str, day_to: str, keys: tuple[Grouping, ...]
) -> Select[Any]:
    """The same aggregate grouped by several keys at once (``key_0``, ``key_1``, ...)."""
    where = [C.local_day >= check_day(day_from), C.local_day < check_day(day_to)]
    cols = [_KEYS[k].label(f"key_{i}") for i, k in enumerate(keys)]
    return select(*cols, *_columns(cfg)).where(*where).group_by(*cols)


def _figures(row: RowMapping, cfg: MetricsConfig) -> CallFigures:
    # int()/float(): drivers may hand back Decimal or int for SUM, depending on the type.
    max_wait = row["max_wait_seconds"]
    return CallFigures(
        cfg,
        **{o: int(row[o]) for o in OUTCOMES},
        busy=int(row["busy"]),
        answered_within_sl=int(row["answered_within_sl"]),
        wait_count=int(row["wait_count"]),
        wait_sum=float(row["wait_sum"]),
        handle_count=int(row["handle_count"]),
        handle_sum=float(row["handle_sum"]),
        max_wait_seconds=None if max_wait is None else float(max_wait),
    )


def _execute(db: Engine | Connection, stmt: Select[Any]) -> list[RowMapping]:
    if isinstance(db, Connection):
        return list(db.execute(stmt).mappings())
    with db.connect() as conn:
        return list(conn.execute(stmt).mappings())


def query_figures(
    db: Engine | Connection,
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> CallFigures:
    """Figures over the calls of local days [day_from, day_to), from one query."""
    stmt = figures_statement(cfg, day_from, day_to, queue=queue, server_id=server_id)
    (row,) = _execute(db, stmt)  # an aggregate without GROUP BY: always one row
    return _figures(row, cfg)


def query_figures_by(
    db: Engine | Connection,
    cfg: MetricsConfig,
    by: Grouping,
    day_from: str,
    day_to: str,
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> dict[GroupKey, CallFigures]:
    """Figures per queue, agent, hour (0-23), day or month (YYYY-MM), from one query.

    Every call is in exactly one group (calls with no queue or agent under the key None),
    so the groups add up to ``query_figures`` over the same period.
    """
    stmt = figures_statement(cfg, day_from, day_to, queue=queue, server_id=server_id, by=by)
    groups = {row["group_key"]: _figures(row, cfg) for row in _execute(db, stmt)}
    return {k: groups[k] for k in sorted(groups, key=sort_key)}


def query_figures_by_keys(
    db: Engine | Connection,
    cfg: MetricsConfig,
    keys: tuple[Grouping, ...],
    day_from: str,
    day_to: str,
) -> dict[tuple[GroupKey, ...], CallFigures]:
    """Figures per combination of groupings (e.g. day x hour x queue), from one query: one
    scan of the period where a query per grouping would read it once each. Each coarser
    grouping is the ``combine`` of its combinations (counts exact; the mean times may
    differ from ``query_figures_by``'s in the last binary digit: floating-point sums in
    another order)."""
    stmt = grouped_statement(cfg, day_from, day_to, keys)
    return {
        tuple(row[f"key_{i}"] for i in range(len(keys))): _figures(row, cfg)
        for row in _execute(db, stmt)
    }
