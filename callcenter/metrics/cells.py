"""Figure cells: the counts and sums of ``CallFigures`` per (server, day, hour, queue),
kept in the database so that a month, or twelve, add up from their cells instead of
scanning their calls again (a year of a busy desk is millions of rows; its cells are
tens of thousands).

A cell is never trusted blindly. Every write to ``calls`` (insert, update, delete, from
whatever writes it) bumps the stamp of its (server, day) in ``call_day_stamps`` through
a trigger (migration 0015), and the cells of a (server, day) are used only while they
were computed at that stamp's generation and with the current service-level threshold
(the one setting the counts depend on). ``refresh`` recomputes the days that are not,
from the calls, with the same aggregate as ``metrics.sql``; so the cells give exactly the
counts a scan gives. The sums of waits and handle times are added in another order, so
a mean may differ from a scan's in its last binary digit.

Ordering makes a race harmless: the stamp is read before the calls are aggregated, so a
write that lands between the two leaves the stored generation behind the stamp, and
the day is recomputed at the next read; it can never be taken as current.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from callcenter.metrics.figures import COUNTS, OUTCOMES, Grouping
from callcenter.metrics.settings import MetricsConfig
from callcenter.metrics.sql import WAIT_BUCKETS, cell_rows_statement
from callcenter.store.models import CallDayStamp, CallFigureCell, CallFigureDay

STAMPS: Table = CallDayStamp.__table__  # type: ignore[assignment]
DAYS: Table = CallFigureDay.__table__  # type: ignore[assignment]
CELLS: Table = CallFigureCell.__table__  # type: ignore[assignment]
K = CELLS.c

# The groupings a cell can answer; "agent" is not one (calls by agent scan the calls).
CELL_KEYS: dict[Grouping, ColumnElement[Any]] = {
    "queue": K.queue,
    "hour": K.local_hour,
    "day": K.local_day,
    "month": func.substr(K.local_day, literal_column("1"), literal_column("7")),
    "server": K.server_id,
}
_SUMMED = (*COUNTS, "wait_count", "handle_count")
_ZERO: ColumnElement[int] = literal_column("0")


def _sum_columns() -> list[ColumnElement[Any]]:
    return [
        *(func.coalesce(func.sum(K[name]), _ZERO).label(name) for name in _SUMMED),
        func.coalesce(func.sum(K.wait_sum), literal_column("0.0")).label("wait_sum"),
        func.coalesce(func.sum(K.handle_sum), literal_column("0.0")).label("handle_sum"),
        func.max(K.max_wait_seconds).label("max_wait_seconds"),
    ]


def cells_statement(
    day_from: str,
    day_to: str,
    keys: tuple[Grouping, ...] = (),
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> Select[Any]:
    """The figures' columns summed over the cells of [day_from, day_to), grouped by
    ``keys`` (``key_0``, ``key_1``...): the same names as ``metrics.sql``'s aggregate."""
    cols = [CELL_KEYS[k].label(f"key_{i}") for i, k in enumerate(keys)]
    stmt = select(*cols, *_sum_columns()).where(*_span(day_from, day_to, queue, server_id))
    return stmt.group_by(*cols) if cols else stmt


def _span(
    day_from: str, day_to: str, queue: str | None, server_id: str | None
) -> list[ColumnElement[bool]]:
    where = [K.local_day >= day_from, K.local_day < day_to]
    if queue is not None:
        where.append(K.queue == queue)
    if server_id is not None:
        where.append(K.server_id == server_id)
    return where


def definitions_statement(
    day_from: str, day_to: str, *, queue: str | None = None, server_id: str | None = None
) -> Select[Any]:
    """Calls by the definitions that classified them, from the cells."""
    calls = sum((K[o] for o in OUTCOMES[1:]), K[OUTCOMES[0]])
    return (
        select(K.definitions.label("definitions"), func.sum(calls).label("calls"))
        .where(*_span(day_from, day_to, queue, server_id))
        .group_by(K.definitions)
    )


def wait_buckets_statement(day_from: str, day_to: str) -> Select[Any]:
    """The abandoned calls by wait bucket (``metrics.sql.WAIT_BUCKETS``), from the cells."""
    return select(*(func.coalesce(func.sum(K[b]), _ZERO).label(b) for b in WAIT_BUCKETS)).where(
        *_span(day_from, day_to, None, None)
    )


def stale_days(
    conn: Connection, cfg: MetricsConfig, day_from: str, day_to: str, server_id: str | None
) -> dict[tuple[str, str], int]:
    """(server, day) -> the stamp's generation, for the days whose cells are missing,
    behind their stamp, or taken with another service-level threshold."""

    def span(table: Table) -> list[ColumnElement[bool]]:
        where = [table.c.local_day >= day_from, table.c.local_day < day_to]
        if server_id is not None:
            where.append(table.c.server_id == server_id)
        return where

    stamps = {
        (r.server_id, r.local_day): int(r.generation)
        for r in conn.execute(
            select(STAMPS.c.server_id, STAMPS.c.local_day, STAMPS.c.generation).where(*span(STAMPS))
        )
    }
    stored = {
        (r.server_id, r.local_day): (int(r.generation), float(r.sl_seconds))
        for r in conn.execute(
            select(DAYS.c.server_id, DAYS.c.local_day, DAYS.c.generation, DAYS.c.sl_seconds).where(
                *span(DAYS)
            )
        )
    }
    sl = float(cfg.service_level_seconds)
    return {day: gen for day, gen in stamps.items() if stored.get(day) != (gen, sl)}


def _upsert_day(conn: Connection) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        pg = postgresql.insert(DAYS)
        return pg.on_conflict_do_update(
            index_elements=["server_id", "local_day"],
            set_={"generation": pg.excluded.generation, "sl_seconds": pg.excluded.sl_seconds},
        )
    if name == "sqlite":
        lite = sqlite.insert(DAYS)
        return lite.on_conflict_do_update(
            index_elements=["server_id", "local_day"],
            set_={
                "generation": lite.excluded.generation,
                "sl_seconds": lite.excluded.sl_seconds,
            },
        )
    raise ValueError(f"figure cells: the store runs on SQLite or PostgreSQL, not {name}")


def refresh(
    conn: Connection,
    cfg: MetricsConfig,
    day_from: str,
    day_to: str,
    *,
    server_id: str | None = None,
) -> int:
    """Recompute the stale cells of [day_from, day_to), in the caller's transaction.
    Returns how many (server, day)s were recomputed."""
    stale = stale_days(conn, cfg, day_from, day_to, server_id)
    if not stale:
        return 0
    ordered = sorted(stale)  # one lock order for every refresher: no deadlock
    sl = float(cfg.service_level_seconds)
    # Claim the days first: a concurrent refresher of the same days waits here.
    conn.execute(
        _upsert_day(conn),
        [{"server_id": s, "local_day": d, "generation": stale[(s, d)], "sl_seconds": sl}
         for s, d in ordered],
    )  # fmt: skip
    for server, days in _by_server(ordered).items():
        for chunk in _chunks(days, 400):  # bound the IN list (SQLite's variable limit)
            conn.execute(delete(CELLS).where(and_(K.server_id == server, K.local_day.in_(chunk))))
            rows = [
                dict(r) for r in conn.execute(cell_rows_statement(cfg, server, chunk)).mappings()
            ]
            if rows:
                conn.execute(insert(CELLS), rows)
    return len(ordered)


def refresh_days(
    engine: Engine, cfg: MetricsConfig, day_from: str, day_to: str, server_id: str | None = None
) -> int:
    """``refresh`` in a transaction of its own: the nightly sweep's, after it re-checked a
    closed day, so the month's report finds that day's cells current."""
    with engine.begin() as conn:
        return refresh(conn, cfg, day_from, day_to, server_id=server_id)


def _by_server(days: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for server, day in days:
        out[server].append(day)
    return out


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
