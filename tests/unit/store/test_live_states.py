"""The live_states table on PostgreSQL: a server's state written and its listeners
notified in one statement, read back by a reload or by server."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from sqlalchemy import Engine, delete

from callcenter.store import live_states
from callcenter.store.live_states import CHANNEL, TABLE, LiveState


def conninfo(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def test_written_notified_and_read_back(pg_engine: Engine) -> None:
    with pg_engine.begin() as conn:
        conn.execute(delete(TABLE))
    at = datetime(2026, 12, 4, 3, 0, 0, 250000, tzinfo=UTC)
    data = {"queues": [{"name": "support", "waiting": [{"caller_name": "ヤマダ タロウ"}]}]}
    async with (
        await psycopg.AsyncConnection.connect(conninfo(pg_engine), autocommit=True) as db,
        await psycopg.AsyncConnection.connect(conninfo(pg_engine), autocommit=True) as listener,
    ):
        await listener.execute(f"LISTEN {CHANNEL}")
        await live_states.publish(db, LiveState("pbx2", "pbx2/a", 7, at, data))
        await live_states.publish(db, LiveState("pbx1", "pbx1/a", 3, at, {}))
        await live_states.publish(db, LiveState("pbx2", "pbx2/a", 8, at, {**data, "n": 1}))
        notes = []
        async for note in listener.notifies(timeout=5, stop_after=3):
            notes.append(note.payload)
        assert notes == ["pbx2 7", "pbx1 3", "pbx2 8"]
        (two,) = await live_states.read(db, "pbx2")
        assert two == LiveState("pbx2", "pbx2/a", 8, at, {**data, "n": 1})
        assert sorted(s.server_id for s in await live_states.read(db)) == ["pbx1", "pbx2"]
        assert await live_states.read(db, "pbx3") == []
