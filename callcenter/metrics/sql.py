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

from callcenter.metrics.figures import OUTCOMES, CallFigures, Grouping
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
    "server": C.server_id,
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


def figures_of_row(row: RowMapping, cfg: MetricsConfig) -> CallFigures:
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


# The abandoned calls' waits, bucketed (the monthly report's "abandoned by wait"): under
# each edge in turn, then longer, then no wait recorded.
ABANDON_WAIT_EDGES: tuple[float, ...] = (10, 20, 30, 60, 120, 300)  # seconds
WAIT_BUCKETS: tuple[str, ...] = (
    *(f"abandoned_w{i}" for i in range(len(ABANDON_WAIT_EDGES) + 1)),
    "abandoned_wnone",
)


def _bucket_conditions() -> list[ColumnElement[bool]]:
    abandoned, wait = C.outcome == "abandoned", C.wait_seconds
    lows: list[float | None] = [None, *ABANDON_WAIT_EDGES]
    highs: list[float | None] = [*ABANDON_WAIT_EDGES, None]
    out = []
    for low, high in zip(lows, highs, strict=True):
        cond = [abandoned, wait.is_not(None)]
        if low is not None:
            cond.append(wait >= low)
        if high is not None:
            cond.append(wait < high)
        out.append(and_(*cond))
    out.append(and_(abandoned, wait.is_(None)))
    return out


def cell_rows_statement(cfg: MetricsConfig, server_id: str, days: list[str]) -> Select[Any]:
    """The figure cells (metrics.cells) of some days of one server, from their calls: the
    same aggregate, per (server, day, hour, queue, definitions), and the abandoned calls
    by wait."""
    keys = [C.server_id, C.local_day, C.local_hour, C.queue, C.definitions]
    where = [C.server_id == server_id, C.local_day.in_([check_day(d) for d in days])]
    buckets = [
        _count(cond).label(name)
        for cond, name in zip(_bucket_conditions(), WAIT_BUCKETS, strict=True)
    ]
    return select(*keys, *_columns(cfg), *buckets).where(*where).group_by(*keys)


def wait_buckets_scan(day_from: str, day_to: str) -> Select[Any]:
    """The abandoned calls by wait bucket, scanning the calls (when the cells cannot be
    refreshed)."""
    where = [C.local_day >= check_day(day_from), C.local_day < check_day(day_to)]
    return select(
        *(_count(cond).label(name) for cond, name in zip(_bucket_conditions(), WAIT_BUCKETS,
                                                          strict=True))
    ).where(*where)  # fmt: skip
