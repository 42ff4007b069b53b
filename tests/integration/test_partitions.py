"""The raw event log by month on PostgreSQL, and its retention on both databases
(store.partitions, store.upkeep; migration 0017)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text

from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import TABLE, event_row, write_rows
from callcenter.store.partitions import DEFAULT, ensure_months, existing_months, prune_events
from callcenter.store.settings import RetentionConfig
from callcenter.store.upkeep import EventLogUpkeep
from tests.support.postgres import PostgresServer

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def row(seq: int, at: datetime, run: str = "run1") -> dict[str, object]:
    headers = {"Event": "Newchannel", "Uniqueid": f"u{seq}", "Linkedid": f"u{seq}"}
    return event_row(headers, at.timestamp(), "lab", run, seq)


def count(engine: Engine, table: str = "ami_events") -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.destroy()


def test_the_migration_partitions_the_stored_events_by_month(pg: PostgresServer) -> None:
    engine = make_engine(pg.url)
    try:
        migrate(engine, "0016")
        stored = [row(1, datetime(2026, 10, 3, tzinfo=UTC)), row(2, datetime(2026, 11, 30, 23, 59,
                  tzinfo=UTC)), row(3, datetime(1999, 1, 1, tzinfo=UTC))]  # fmt: skip
        with engine.begin() as conn:  # as the event log wrote them before 0017
            conn.execute(insert(TABLE), stored)
        migrate(engine)
        with engine.connect() as conn:
            months = existing_months(conn)
            kind = conn.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'ami_events'"))
        assert kind == "p"
        # The months that had events, and this one and the next two; not every month
        # since 1999.
        assert {(1999, 1), (2026, 10), (2026, 11)} <= set(months)
        assert len(months) <= 6
        assert count(engine) == 3
        assert count(engine, months[(2026, 11)]) == 1
        assert count(engine, DEFAULT) == 0
        # Storing the same events again (a replayed spool) adds nothing; new ones go on
        # with the same id sequence.
        write_rows(engine, [*stored, row(4, datetime(2026, 10, 4, tzinfo=UTC))])
        assert count(engine) == 4
        with engine.connect() as conn:
            ids = conn.scalars(select(TABLE.c.id).order_by(TABLE.c.seq)).all()
        assert ids == sorted(ids)
        assert len(set(ids)) == 4
    finally:
        engine.dispose()


def test_a_month_made_later_takes_its_rows_from_the_default(pg: PostgresServer) -> None:
    engine = make_engine(pg.url)
    try:
        migrate(engine)
        far = datetime(2031, 5, 6, tzinfo=UTC)  # a clock years ahead: no month for it yet
        write_rows(engine, [row(1, far)])
        assert count(engine, DEFAULT) == 1
        with engine.begin() as conn:
            assert ensure_months(conn, [(2031, 5)]) == ["ami_events_y2031m05"]
            assert ensure_months(conn, [(2031, 5)]) == []  # once
        assert count(engine, DEFAULT) == 0
        assert count(engine, "ami_events_y2031m05") == 1
    finally:
        engine.dispose()


def test_retention_drops_whole_months_on_postgresql(pg: PostgresServer) -> None:
    engine = make_engine(pg.url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            ensure_months(conn, [(2026, 1), (2026, 2), (2026, 3)])
        write_rows(engine, [row(1, datetime(2026, 1, 15, tzinfo=UTC)),
                            row(2, datetime(2026, 2, 15, tzinfo=UTC)),
                            row(3, datetime(2026, 3, 15, tzinfo=UTC))])  # fmt: skip
        # Keep 280 days from 2026-12-04: the cut is 2026-02-27. January goes whole;
        # February holds days on both sides of the cut, so it stays until it is all past.
        assert prune_events(engine, 280, NOW) == 1
        with engine.connect() as conn:
            months = existing_months(conn)
        assert (2026, 1) not in months
        assert {(2026, 2), (2026, 3)} <= set(months)
        assert count(engine) == 2
        assert prune_events(engine, 0, NOW) == 0  # 0: kept forever
    finally:
        engine.dispose()


async def test_one_daemon_prunes_a_day_and_the_months_ahead_exist(pg: PostgresServer) -> None:
    engine = make_engine(pg.url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            ensure_months(conn, [(2025, 1)])
        write_rows(engine, [row(1, datetime(2025, 1, 2, tzinfo=UTC))])
        cfg = RetentionConfig(events_days=30)
        a = EventLogUpkeep(engine, cfg, clock=lambda: NOW)
        b = EventLogUpkeep(engine, cfg, clock=lambda: NOW)
        await a.once()
        await b.once()
        assert (a.last_pruned, b.last_pruned) == (1, None)  # one month dropped, once
        with engine.connect() as conn:
            months = existing_months(conn)
        assert {(2026, 12), (2027, 1), (2027, 2)} <= set(months)
    finally:
        engine.dispose()


def test_retention_on_sqlite_deletes_the_old_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    try:
        migrate(engine)
        old = [row(i, NOW - timedelta(days=500, seconds=i)) for i in range(25)]
        new = [row(100 + i, NOW - timedelta(days=10, seconds=i)) for i in range(5)]
        write_rows(engine, old + new)
        assert prune_events(engine, 400, NOW) == 25
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(TABLE)) == 5
    finally:
        engine.dispose()
