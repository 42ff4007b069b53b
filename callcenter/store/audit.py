"""The audit trail: append and read, nothing else (the table refuses updates and
deletes). Written after the action, with its result, by the web layer and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select

from callcenter.store.models import AuditRow

_T: Table = AuditRow.__table__  # type: ignore[assignment]
DETAIL_MAX = 4000  # characters of the detail's JSON kept


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    result: int
    via: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    server_id: str = ""


def _utc(at: datetime) -> datetime:
    # SQLite hands back the stored UTC time without its zone.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


class AuditLog:
    def __init__(self, engine: Engine, server_id: str = "") -> None:
        self.engine = engine
        self.server_id = server_id

    def append(self, entry: AuditEntry) -> None:
        detail = dict(entry.detail)
        if len(repr(detail)) > DETAIL_MAX:
            detail = {"truncated": repr(detail)[:DETAIL_MAX]}
        with self.engine.begin() as conn:
            conn.execute(
                insert(_T).values(
                    at=entry.at,
                    actor=entry.actor[:128],
                    role=entry.role[:20],
                    action=entry.action[:80],
                    target=entry.target[:200],
                    result=entry.result,
                    detail=detail,
                    via=entry.via,
                    server_id=(entry.server_id or self.server_id)[:40],
                )
            )

    def _where(self, f: AuditFilter) -> list[Any]:
        where: list[Any] = []
        if f.actor is not None:
            where.append(_T.c.actor == f.actor)
        if f.action is not None:
            where.append(_T.c.action == f.action)
        if f.since is not None:
            where.append(_T.c.at >= f.since)
        if f.until is not None:
            where.append(_T.c.at < f.until)
        return where

    def query(self, f: AuditFilter) -> tuple[list[AuditEntry], int]:
        """Newest first, one page, and how many match in all."""
        where = self._where(f)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(_T).where(*where)).scalar()
            rows = conn.execute(
                select(_T)
                .where(*where)
                .order_by(_T.c.at.desc(), _T.c.id.desc())
                .limit(f.limit)
                .offset(f.offset)
            ).mappings()
            return [
                AuditEntry(
                    _utc(r["at"]), r["actor"], r["role"], r["action"], r["target"], r["result"],
                    r["via"], r["detail"] or {}, r["server_id"],
                )
                for r in rows
            ], int(total or 0)  # fmt: skip
