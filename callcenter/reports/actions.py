"""Improvement actions (改善施策): what supervisors decided to change after a month,
stored per month and printed in that month's report.

A small repository over the ``improvement_actions`` table (migration 0011), for the
report builder and for the web pages that let supervisors write them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, Table, delete, insert, select, update

from callcenter.reports.model import ImprovementAction
from callcenter.reports.months import month_bounds
from callcenter.store.models import ImprovementActionRow

TABLE: Table = ImprovementActionRow.__table__  # type: ignore[assignment]
C = TABLE.c

ActionStatus = Literal["planned", "in_progress", "done"]
ACTION_STATUSES: tuple[ActionStatus, ...] = get_args(ActionStatus)
LIMITS = {"title": 200, "owner": 120, "author": 120, "body": 20_000}


class ActionNotFound(LookupError):
    def __init__(self, action_id: int) -> None:
        super().__init__(f"no improvement action {action_id}")
        self.action_id = action_id


def _check(fields: dict[str, Any]) -> None:
    """ValueError naming the field, for what the table would refuse or truncate."""
    if "month" in fields:
        month_bounds(fields["month"])
        if len(fields["month"]) != 7:
            raise ValueError(f"month: {fields['month']!r} is not YYYY-MM")
    if "title" in fields and not str(fields["title"]).strip():
        raise ValueError("title: must not be empty")
    for name, limit in LIMITS.items():
        if name in fields and len(str(fields[name])) > limit:
            raise ValueError(f"{name}: at most {limit} characters")
    if "status" in fields and fields["status"] not in ACTION_STATUSES:
        raise ValueError(f"status: one of {', '.join(ACTION_STATUSES)}")


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _action(r: Any) -> ImprovementAction:
    return ImprovementAction(
        id=int(r.id),
        month=r.month,
        title=r.title,
        body=r.body,
        owner=r.owner,
        status=r.status,
        author=r.author,
        created_at=_aware(r.created_at),
        updated_at=_aware(r.updated_at),
    )


class ImprovementActions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        month: str,
        title: str,
        *,
        author: str,
        at: datetime,
        body: str = "",
        owner: str = "",
        status: ActionStatus = "planned",
    ) -> ImprovementAction:
        fields = {"month": month, "title": title, "body": body, "owner": owner,
                  "status": status, "author": author}  # fmt: skip
        _check(fields)
        at = at.astimezone(UTC)
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(TABLE).values(**fields, created_at=at, updated_at=at).returning(C.id)
            ).scalar_one()
        return ImprovementAction(id=int(new_id), created_at=at, updated_at=at, **fields)

    def get(self, action_id: int) -> ImprovementAction:
        with self.engine.connect() as conn:
            row = conn.execute(select(TABLE).where(C.id == action_id)).first()
        if row is None:
            raise ActionNotFound(action_id)
        return _action(row)

    def for_month(self, month: str) -> list[ImprovementAction]:
        """The month's actions in the order they were written."""
        month_bounds(month)
        with self.engine.connect() as conn:
            rows = conn.execute(select(TABLE).where(C.month == month).order_by(C.id)).all()
        return [_action(r) for r in rows]

    def update(self, action_id: int, *, at: datetime, **fields: Any) -> ImprovementAction:
        """Change title, body, owner, status or month; the others are not editable."""
        unknown = set(fields) - {"title", "body", "owner", "status", "month"}
        if unknown:
            raise ValueError(f"{sorted(unknown)[0]}: not editable")
        _check(fields)
        at = at.astimezone(UTC)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(TABLE).where(C.id == action_id).values(**fields, updated_at=at)
            ).rowcount
        if not done:
            raise ActionNotFound(action_id)
        return self.get(action_id)

    def remove(self, action_id: int) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(delete(TABLE).where(C.id == action_id)).rowcount:
                raise ActionNotFound(action_id)
