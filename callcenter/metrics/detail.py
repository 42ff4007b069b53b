"""The call detail: the rows behind every figure, filtered, each with what it counts for.

An auditor recomputes any rate from them: ``incoming`` marks the calls in the rates'
denominator (every outcome but after_hours, unknown and short_abandoned), and
``abandoned``, ``busy`` and ``within_sl`` their numerators, by the same expressions the
figures sum (``metrics.sql``). So for the same period and queue,
sum(abandoned) / sum(incoming) is ``abandonment_rate`` exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, func, not_, select

from callcenter.metrics.figures import EXCLUDED
from callcenter.metrics.settings import MetricsConfig
from callcenter.metrics.sql import COUNTS_AS_BUSY, check_day, within_sl
from callcenter.store.calls import TABLE

C = TABLE.c

# The columns shown, in order (the export's header).
COLUMNS = (
    "linkedid",
    "server_id",
    "local_day",
    "local_hour",
    "arrived_at",
    "caller_num",
    "caller_name",
    "dnis",
    "queue",
    "agent",
    "outcome",
    "abandon_stage",
    "heard_busy",
    "queued_at",
    "answered_at",
    "ended_at",
    "wait_seconds",
    "handle_seconds",
    "talk_seconds",
    "hold_seconds",
    "park_seconds",
    "estimated",
    "source",
)
FLAGS = ("incoming", "abandoned", "busy", "within_sl")


@dataclass(frozen=True)
class CallFilter:
    day_from: str  # local days [day_from, day_to)
    day_to: str
    queue: str | None = None
    agent: str | None = None
    outcomes: Sequence[str] = ()
    caller: str | None = None
    server_id: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [
            C.local_day >= check_day(self.day_from),
            C.local_day < check_day(self.day_to),
        ]
        if self.queue is not None:
            out.append(C.queue == self.queue)
        if self.agent is not None:
            out.append(C.agent == self.agent)
        if self.outcomes:
            out.append(C.outcome.in_(list(self.outcomes)))
        if self.caller is not None:
            out.append(C.caller_num == self.caller)
        if self.server_id is not None:
            out.append(C.server_id == self.server_id)
        return out


def _flags(cfg: MetricsConfig) -> list[ColumnElement[Any]]:
    return [
        not_(C.outcome.in_(list(EXCLUDED))).label("incoming"),
        (C.outcome == "abandoned").label("abandoned"),
        COUNTS_AS_BUSY.label("busy"),
        and_(within_sl(cfg), C.wait_seconds.is_not(None)).label("within_sl"),
    ]


def detail_statement(cfg: MetricsConfig, f: CallFilter) -> Select[Any]:
    cols = [getattr(C, name) for name in COLUMNS]
    return (
        select(*cols, *_flags(cfg))
        .where(*f.where())
        .order_by(C.arrived_at, C.server_id, C.linkedid)
    )


def _plain(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in (*FLAGS, "heard_busy", "estimated"):
        out[k] = bool(out[k])  # SQLite hands back 0/1
    for k in ("arrived_at", "queued_at", "answered_at", "ended_at"):
        v = out[k]
        out[k] = None if v is None else v.isoformat()
    return out


def query_calls(
    engine: Engine, cfg: MetricsConfig, f: CallFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the calls matching ``f`` (oldest first) and how many match in all."""
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(TABLE).where(*f.where())).scalar()
        rows = conn.execute(detail_statement(cfg, f).limit(limit).offset(offset)).mappings()
        return [_plain(r) for r in rows], int(total or 0)


def iter_calls(engine: Engine, cfg: MetricsConfig, f: CallFilter) -> list[dict[str, Any]]:
    """Every call matching ``f`` (the export)."""
    with engine.connect() as conn:
        return [_plain(r) for r in conn.execute(detail_statement(cfg, f)).mappings()]
