"""The ``live_states`` table: each server's live state as its daemon last published it,
and the PostgreSQL notification that wakes the other daemons.

The notification only says "server X changed, seq N" (a payload is capped at 8000 bytes,
and a notification sent while a listener was away is gone); the state itself is the
row, which any daemon reads, at a reconnect all of them. Both go through psycopg's
asynchronous connections, on the daemon's event loop (web.live_cluster).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import Table

from callcenter.store.db import dump_json
from callcenter.store.models import LiveStateRow

TABLE: Table = LiveStateRow.__table__  # type: ignore[assignment]
CHANNEL = "callcenter_live"

# One statement, so one round trip: the row and the notification in one transaction
# (the statement's own, the connection being in autocommit). The listeners are woken at
# its commit, when the row they will read is there.
PUBLISH = f"""
WITH written AS (
    INSERT INTO {TABLE.name} (server_id, holder, seq, at, data)
    VALUES (%(server_id)s, %(holder)s, %(seq)s, %(at)s, %(data)s)
    ON CONFLICT (server_id) DO UPDATE SET
        holder = EXCLUDED.holder, seq = EXCLUDED.seq, at = EXCLUDED.at, data = EXCLUDED.data
    RETURNING server_id, seq
)
SELECT pg_notify(%(channel)s, server_id || ' ' || seq) FROM written
"""  # noqa: S608 (the table's name is ours)
READ = f"SELECT server_id, holder, seq, at, data FROM {TABLE.name}"  # noqa: S608


@dataclass(frozen=True)
class LiveState:
    server_id: str
    holder: str
    seq: int
    at: datetime
    data: dict[str, Any]


async def publish(conn: AsyncConnection[Any], state: LiveState) -> None:
    """Store the server's state and notify the listeners. ``conn`` is in autocommit.

    On the daemon's event loop, not in a worker thread: a thread's every round trip
    waited for the GIL that the busy loop held (up to the 5 ms switch interval each;
    bench/live_cluster: 14 ms a write on average, against ~2.5 ms on the loop)."""
    await conn.execute(
        PUBLISH,
        {
            "server_id": state.server_id,
            "holder": state.holder,
            "seq": state.seq,
            "at": state.at,
            "data": Jsonb(state.data, dumps=dump_json),
            "channel": CHANNEL,
        },
    )


async def read(conn: AsyncConnection[Any], server_id: str | None = None) -> list[LiveState]:
    """Every server's state (a reload), or one server's (a notification)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        if server_id is None:
            await cur.execute(READ)
        else:
            await cur.execute(READ + " WHERE server_id = %s", (server_id,))
        return [
            LiveState(r["server_id"], r["holder"], int(r["seq"]), r["at"], dict(r["data"]))
            for r in await cur.fetchall()
        ]


def parse_payload(payload: str) -> tuple[str, int] | None:
    """``"server seq"``; None for anything else (another sender on the channel)."""
    server, _, seq = payload.rpartition(" ")
    if not server or not seq.isdigit():
        return None
    return server, int(seq)
