"""The webhook outbox: one row per (event, URL), written in the caller's transaction.

``enqueue`` runs on the caller's connection, inside the transaction that writes the
incident, so the incident and its webhooks commit together or not at all (a
transactional outbox). The sender reads the committed rows later and records each
attempt. Rows are kept after delivery (for audit) until ``purge_finished`` removes them.

One event to N URLs is N rows sharing one ``delivery_id``: each URL keeps its own
attempts, order and dead flag, and the receiver sees the same delivery id on every
retry. (url, delivery_id) is unique.

Several daemons may share one PostgreSQL, each running a sender: a row is ``claim``-ed
before it is posted (``SELECT ... FOR UPDATE SKIP LOCKED``, then its next attempt is
pushed past the attempt's timeout), so only one sender posts it; a sender that dies
holding a claim only delays the row until the claim runs out.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from callcenter.store.models import (
    MAX_ERROR_CHARS,
    WebhookOutbox,
)
from callcenter.webhooks.settings import WebhookSettings

TABLE: Table = WebhookOutbox.__table__  # type: ignore[assignment]
_C = TABLE.c


@dataclass(frozen=True)
class Delivery:
    """One pending row, as the sender needs it."""

    id: int
    delivery_id: str
    event: str
    url: str
    body: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime


def utc(value: datetime) -> datetime:
    """Aware UTC. SQLite hands back naive values, which are UTC by construction here."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _stored(value: datetime) -> datetime:
    if value.tzinfo is None:
        # SQLite would store a naive local time as if it were UTC: refuse the ambiguity.
        raise ValueError("webhook outbox times must be timezone-aware")
    return value.astimezone(UTC)


def encode_body(delivery_id: str, event: str, payload: dict[str, Any], now: datetime) -> str:
    """The JSON envelope sent to receivers (see docs/webhooks.md)."""
    envelope = {
        "id": delivery_id,
        "event": event,
        "created_at": _stored(now).isoformat().replace("+00:00", "Z"),
        "data": payload,
    }
    # allow_nan=False: NaN is not JSON and strict receivers reject the whole body.
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def enqueue(
    conn: Connection,
    event: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    settings: WebhookSettings,
) -> str | None:
    """Queue ``event`` for every configured URL on ``conn``, in the caller's transaction.

    Returns the delivery id (the receiver's idempotency key), or None when nothing was
    queued: no URL is configured, or ``event`` is not in ``settings.events``. A payload
    that is not JSON raises here (TypeError/ValueError), failing the caller's transaction
    rather than a webhook that could never be sent.
    """
    if not event or len(event) > 80:
        raise ValueError("webhook event name: 1 to 80 characters")
    if not settings.urls or event not in settings.events:
        return None
    delivery_id = uuid.uuid4().hex
    body = encode_body(delivery_id, event, payload, now)
    at = _stored(now)
    conn.execute(
        insert(TABLE),
        [
            {
                "delivery_id": delivery_id,
                "event": event,
                "url": url,
                "body": body,
                "created_at": at,
                "attempts": 0,
                "next_attempt_at": at,
                "last_attempt_at": None,
                "last_status": None,
                "last_error": None,
                "delivered_at": None,
                "dead": False,
            }
            for url in settings.urls
        ],
    )
    return delivery_id


def _pending() -> Any:
    return (_C.delivered_at.is_(None)) & (_C.dead == False)  # noqa: E712 (SQL, not Python)


def heads(conn: Connection) -> list[Delivery]:
    """The oldest pending row of each URL, due or not, oldest first.

    Only a URL's head may be sent: row N+1 waits until row N is delivered or dead, so
    each receiver sees events in the order they happened.
    """
    first = (
        select(_C.url, func.min(_C.id).label("id")).where(_pending()).group_by(_C.url).subquery()
    )
    rows = conn.execute(
        select(
            _C.id,
            _C.delivery_id,
            _C.event,
            _C.url,
            _C.body,
            _C.created_at,
            _C.attempts,
            _C.next_attempt_at,
        )
        .join(first, first.c.id == _C.id)
        .order_by(_C.id)
    ).all()
    return [
        Delivery(
            id=r.id,
            delivery_id=r.delivery_id,
            event=r.event,
            url=r.url,
            body=r.body,
            created_at=utc(r.created_at),
            attempts=r.attempts,
            next_attempt_at=utc(r.next_attempt_at),
        )
        for r in rows
    ]


def due(conn: Connection, now: datetime) -> list[Delivery]:
    """The heads whose next attempt time has come."""
    at = utc(now)
    return [d for d in heads(conn) if d.next_attempt_at <= at]


def claim(conn: Connection, row_id: int, now: datetime, until: datetime) -> Delivery | None:
    """Take row ``row_id`` for one attempt, in the caller's transaction: the row as it
    is now, or None if it is not to be sent now (another sender holds or has just sent
    it, it is not due, or an older row of its URL is pending again).

    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a row another sender is claiming is passed
    over, not waited for; once committed, its next attempt is ``until`` (past the
    attempt's timeout), so no other sender finds it due meanwhile. SQLite renders no
    lock (one process writes it, and it serialises writers itself).
    """
    older = TABLE.alias("older")
    row = conn.execute(
        select(
            _C.id,
            _C.delivery_id,
            _C.event,
            _C.url,
            _C.body,
            _C.created_at,
            _C.attempts,
            _C.next_attempt_at,
        )
        .where(
            _C.id == row_id,
            _pending(),
            _C.next_attempt_at <= _stored(now),
            ~exists().where(
                older.c.url == _C.url,
                older.c.id < _C.id,
                older.c.delivered_at.is_(None),
                older.c.dead == False,  # noqa: E712 (SQL, not Python)
            ),
        )
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    conn.execute(update(TABLE).where(_C.id == row_id).values(next_attempt_at=_stored(until)))
    return Delivery(
        id=row.id,
        delivery_id=row.delivery_id,
        event=row.event,
        url=row.url,
        body=row.body,
        created_at=utc(row.created_at),
        attempts=row.attempts,
        next_attempt_at=utc(row.next_attempt_at),
    )


def mark_delivered(conn: Connection, row_id: int, now: datetime, status: int) -> None:
    at = _stored(now)
    conn.execute(
        update(TABLE)
        .where(_C.id == row_id)
        .values(
            attempts=_C.attempts + 1,
            last_attempt_at=at,
            last_status=status,
            delivered_at=at,
        )
    )


def mark_failed(
    conn: Connection,
    row_id: int,
    now: datetime,
    error: str,
    next_attempt_at: datetime,
    *,
    status: int | None = None,
    dead: bool = False,
) -> None:
    """Record a failed attempt. ``error`` must already be free of secrets (it is stored)."""
    conn.execute(
        update(TABLE)
        .where(_C.id == row_id)
        .values(
            attempts=_C.attempts + 1,
            last_attempt_at=_stored(now),
            last_status=status,
            last_error=error[:MAX_ERROR_CHARS],
            next_attempt_at=_stored(next_attempt_at),
            dead=dead,
        )
    )


def pending_count(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(TABLE).where(_pending())) or 0)


def revive_dead(conn: Connection, now: datetime, url: str | None = None) -> int:
    """Send dead rows again (e.g. after the vendor fixed their endpoint); returns how many.

    Their attempts restart from zero. A URL's revived rows go out before its newer ones
    only if those are still pending: order is by row id.
    """
    stmt = update(TABLE).where(_C.dead == True)  # noqa: E712 (SQL, not Python)
    if url is not None:
        stmt = stmt.where(_C.url == url)
    result = conn.execute(stmt.values(dead=False, attempts=0, next_attempt_at=_stored(now)))
    return int(result.rowcount)


def purge_finished(conn: Connection, before: datetime) -> int:
    """Delete delivered and dead rows created before ``before``; returns how many."""
    result = conn.execute(
        delete(TABLE).where(
            _C.created_at < _stored(before),
            or_(_C.delivered_at.is_not(None), _C.dead == True),  # noqa: E712
        )
    )
    return int(result.rowcount)
