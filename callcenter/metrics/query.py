"""The call figures of a period, read from the figure cells (metrics.cells) where they
can answer, else aggregated over the calls themselves (metrics.sql).

Both give the same counts: the cells are that aggregate per (server, day, hour, queue),
recomputed for any day written since. Figures by agent scan the calls: agents are not
a cell key (a cell per agent would be nearly a row per call at a small desk).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import Connection, Engine, RowMapping, Select
from sqlalchemy.exc import SQLAlchemyError

from callcenter.metrics.cells import (
    CELL_KEYS,
    cells_statement,
    definitions_statement,
    refresh,
    wait_buckets_statement,
)
from callcenter.metrics.definitions import scan_definitions
from callcenter.metrics.figures import CallFigures, Grouping, GroupKey, sort_key
from callcenter.metrics.settings import MetricsConfig
from callcenter.metrics.sql import (
    WAIT_BUCKETS,
    check_day,
    figures_of_row,
    figures_statement,
    grouped_statement,
    wait_buckets_scan,
)

log = structlog.get_logger("callcenter.metrics")


def _execute(db: Engine | Connection, stmt: Select[Any]) -> list[RowMapping]:
    if isinstance(db, Connection):
        return list(db.execute(stmt).mappings())
    with db.connect() as conn:
        return list(conn.execute(stmt).mappings())


def _from_cells(
    db: Engine | Connection,
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    keys: tuple[Grouping, ...],
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> list[RowMapping] | None:
    """The rows of ``cells_statement`` after refreshing the period's stale cells; None
    when the cells could not be refreshed (the caller scans the calls instead)."""
    stmt = cells_statement(day_from, day_to, keys, queue=queue, server_id=server_id)
    return _read_cells(db, cfg, day_from, day_to, stmt, server_id)


def _read_cells(
    db: Engine | Connection,
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    stmt: Select[Any],
    server_id: str | None = None,
) -> list[RowMapping] | None:
    check_day(day_from)
    check_day(day_to)
    if isinstance(db, Connection):  # the caller's transaction: its failure is its own
        refresh(db, cfg, day_from, day_to, server_id=server_id)
        return list(db.execute(stmt).mappings())
    try:
        with db.begin() as conn:
            refresh(conn, cfg, day_from, day_to, server_id=server_id)
            return list(conn.execute(stmt).mappings())
    except SQLAlchemyError as exc:
        # A database that cannot be written now (locked, read-only) still answers: the
        # scan gives the same figures, only slower.
        log.warning("figure_cells_not_refreshed", error=type(exc).__name__)
        return None


def query_figures(
    db: Engine | Connection,
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> CallFigures:
    """Figures over the calls of local days [day_from, day_to)."""
    rows = _from_cells(db, cfg, day_from, day_to, (), queue=queue, server_id=server_id)
    if rows is None:
        stmt = figures_statement(cfg, day_from, day_to, queue=queue, server_id=server_id)
        rows = _execute(db, stmt)
    (row,) = rows  # an aggregate without GROUP BY: always one row
    return figures_of_row(row, cfg)


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
    """Figures per queue, agent, hour (0-23), day or month (YYYY-MM).

    Every call is in exactly one group (calls with no queue or agent under the key None),
    so the groups add up to ``query_figures`` over the same period.
    """
    cells = None
    if by in CELL_KEYS:
        cells = _from_cells(db, cfg, day_from, day_to, (by,), queue=queue, server_id=server_id)
    if cells is not None:
        groups = {row["key_0"]: figures_of_row(row, cfg) for row in cells}
    else:
        stmt = figures_statement(cfg, day_from, day_to, queue=queue, server_id=server_id, by=by)
        groups = {row["group_key"]: figures_of_row(row, cfg) for row in _execute(db, stmt)}
    return {k: groups[k] for k in sorted(groups, key=sort_key)}


def query_figures_by_keys(
    db: Engine | Connection,
    cfg: MetricsConfig,
    keys: tuple[Grouping, ...],
    day_from: str,
    day_to: str,
) -> dict[tuple[GroupKey, ...], CallFigures]:
    """Figures per combination of groupings (e.g. day x hour x queue), from one query.
    Each coarser grouping is the ``combine`` of its combinations (counts exact; the mean
    times may differ from ``query_figures_by``'s in the last binary digit: floating-point
    sums in another order)."""
    rows = None
    if all(k in CELL_KEYS for k in keys):
        rows = _from_cells(db, cfg, day_from, day_to, keys)
    if rows is None:
        rows = _execute(db, grouped_statement(cfg, day_from, day_to, keys))
    return {
        tuple(row[f"key_{i}"] for i in range(len(keys))): figures_of_row(row, cfg) for row in rows
    }


def query_definitions(
    db: Engine,
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> dict[str, int]:
    """Calls of local days [from, to) by the definitions that classified them."""
    stmt = definitions_statement(day_from, day_to, queue=queue, server_id=server_id)
    rows = _read_cells(db, cfg, day_from, day_to, stmt, server_id)
    if rows is None:
        return scan_definitions(db, day_from, day_to, queue=queue, server_id=server_id)
    return {(r["definitions"] or ""): int(r["calls"]) for r in rows if int(r["calls"])}


def query_wait_buckets(
    db: Engine, cfg: MetricsConfig, day_from: str, day_to: str
) -> dict[str, int]:
    """The period's abandoned calls by wait bucket (``metrics.sql.WAIT_BUCKETS``)."""
    rows = _read_cells(db, cfg, day_from, day_to, wait_buckets_statement(day_from, day_to))
    if rows is None:
        rows = _execute(db, wait_buckets_scan(day_from, day_to))
    (row,) = rows
    return {b: int(row[b]) for b in WAIT_BUCKETS}
