"""The ``live_states`` table: each server's live state as its daemon last published it,
and the PostgreSQL notification that wakes the other daemons.

The notification only says "server X changed, seq N" (a payload is capped at 8000 bytes,
and a notification sent while a listener was away is gone); the state itself is the
row, which any daemon reads, at a reconnect all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, select, text
from sqlalchemy.dialects import postgresql

from callcenter.store.models import LiveStateRow

TABLE: Table = LiveStateRow.__table__  # type: ignore[assignment]
CHANNEL = "callcenter_live"


@dataclass(frozen=True)
class LiveState:
    server_id: str
    holder: str
    seq: int
    at: datetime
    data: dict[str, Any]


def publish(engine: Engine, state: LiveState) -> None:
    """Store the server's state and notify the listeners, in one transaction: they are
    woken at its commit, when the row they will read is there."""
    if engine.dialect.name != "postgresql":
        raise ValueError("live states are shared through PostgreSQL only")
    row = {
        "server_id": state.server_id,
        "holder": state.holder,
        "seq": state.seq,
        "at": state.at,
        "data": state.data,
    }
    stmt = postgresql.insert(TABLE).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=["server_id"],
        set_={k: stmt.excluded[k] for k in ("holder", "seq", "at", "data")},
    )
    with engine.begin() as conn:
        conn.execute(stmt)
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": f"{state.server_id} {state.seq}"},
        )


def read(engine: Engine, server_id: str | None = None) -> list[LiveState]:
    """Every server's state (a reload), or one server's (a notification)."""
    stmt = select(TABLE)
    if server_id is not None:
        stmt = stmt.where(TABLE.c.server_id == server_id)
    with engine.connect() as conn:
        return [
            LiveState(r.server_id, r.holder, int(r.seq), r.at, dict(r.data))
            for r in conn.execute(stmt)
        ]


def parse_payload(payload: str) -> tuple[str, int] | None:
    """``"server seq"``; None for anything else (another sender on the channel)."""
    server, _, seq = payload.rpartition(" ")
    if not server or not seq.isdigit():
        return None
    return server, int(seq)
