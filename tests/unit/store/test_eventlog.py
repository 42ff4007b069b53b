"""The event log writer on a real SQLite file: batching, retry, spill, replay, no doubles."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from callcenter.store import eventlog as eventlog_mod
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import EventLog, write_rows
from callcenter.store.models import AMIEvent
from callcenter.store.settings import DatabaseConfig


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'ev.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def stored(engine: Engine) -> list[tuple[str, int, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AMIEvent.run_id, AMIEvent.seq, AMIEvent.headers).order_by(AMIEvent.id)
        ).all()
    return [(r[0], r[1], dict(r[2])) for r in rows]


def ev(i: int) -> dict[str, str]:
    return {
        "Event": "Newchannel",
        "Uniqueid": f"u{i}",
        "Linkedid": "L",
        "CallerIDName": "山田 太郎",
    }


class FlakyWriter:
    """write_rows that fails ``failures`` times (as a database outage would), then works."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, engine: Engine, rows: list[dict[str, Any]], stmt: Any = None) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("database is down"))
        write_rows(engine, rows, stmt)


async def run_until_drained(log: EventLog, timeout: float = 10) -> None:
    task = asyncio.create_task(log.run())
    deadline = asyncio.get_running_loop().time() + timeout
    while (log.pending or log._spool_files()) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    await log.stop()
    await asyncio.wait_for(task, timeout)


async def test_events_are_stored_whole_in_batches(engine: Engine) -> None:
    log = EventLog(engine, "srv1", DatabaseConfig(batch_size=7, flush_interval=0.01))
    for i in range(50):
        log.append(ev(i), 1_800_000_000.0 + i)
    await run_until_drained(log)
    rows = stored(engine)
    assert [r[1] for r in rows] == list(range(1, 51))
    assert rows[0][2] == ev(0)
    assert log.stats.written == 50
    cols = (
        AMIEvent.server_id,
        AMIEvent.event,
        AMIEvent.uniqueid,
        AMIEvent.linkedid,
        AMIEvent.received_at,
    )
    with engine.connect() as conn:
        first = conn.execute(select(*cols).order_by(AMIEvent.id).limit(1)).one()
    assert tuple(first[:4]) == ("srv1", "Newchannel", "u0", "L")
    # SQLite keeps no zone: the value is UTC by construction.
    assert first[4].replace(tzinfo=UTC).timestamp() == pytest.approx(1_800_000_000.0)


async def test_failed_writes_are_retried_and_nothing_is_lost(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = FlakyWriter(failures=4)
    monkeypatch.setattr(eventlog_mod, "write_rows", flaky)
    log = EventLog(
        engine,
        "srv1",
        DatabaseConfig(batch_size=10, flush_interval=0.01, retry_min=0.01, retry_max=0.02),
    )
    for i in range(35):
        log.append(ev(i))
    await run_until_drained(log)
    assert [r[1] for r in stored(engine)] == list(range(1, 36))
    assert log.stats.failures == 4
    assert log.healthy


async def test_full_buffer_spills_to_spool_and_is_replayed(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = FlakyWriter(failures=3)
    monkeypatch.setattr(eventlog_mod, "write_rows", flaky)
    spool = tmp_path / "spool"
    log = EventLog(
        engine,
        "srv1",
        DatabaseConfig(
            batch_size=5, buffer_limit=20, flush_interval=0.01, retry_min=0.05, retry_max=0.05
        ),
        spool_dir=spool,
    )
    task = asyncio.create_task(log.run())
    for i in range(60):
        log.append(ev(i))
        await asyncio.sleep(0)
    assert log.stats.spilled >= 20
    await log.wait_spills()  # written by the spill thread, not on the loop
    assert list(spool.glob("*.jsonl"))
    while log.pending or log._spool_files():
        await asyncio.sleep(0.01)
    await log.stop()
    await task
    seqs = sorted(r[1] for r in stored(engine))
    assert seqs == list(range(1, 61))  # every event once, whichever path it took
    assert not list(spool.glob("*.jsonl"))
    assert log.stats.replayed == log.stats.spilled


async def test_stop_with_database_down_spools_and_next_run_replays(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    monkeypatch.setattr(eventlog_mod, "write_rows", FlakyWriter(failures=10_000))
    log = EventLog(
        engine,
        "srv1",
        DatabaseConfig(batch_size=4, flush_interval=0.01, retry_min=0.01, retry_max=0.01),
        spool_dir=spool,
    )
    task = asyncio.create_task(log.run())
    for i in range(10):
        log.append(ev(i))
    await asyncio.sleep(0.05)
    await log.stop()
    await asyncio.wait_for(task, 5)
    assert stored(engine) == []
    assert len(list(spool.glob("*.jsonl"))) == 1

    # The database is back; a new daemon run replays what the last one left on disk.
    monkeypatch.setattr(eventlog_mod, "write_rows", write_rows)
    log2 = EventLog(engine, "srv1", DatabaseConfig(flush_interval=0.01), spool_dir=spool)
    await run_until_drained(log2)
    rows = stored(engine)
    assert sorted(r[1] for r in rows) == list(range(1, 11))
    assert {r[0] for r in rows} == {log.run_id}
    assert rows[0][2]["CallerIDName"] == "山田 太郎"


async def test_a_batch_retried_after_an_ambiguous_failure_is_not_stored_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    class CommitThenFail:
        """The insert commits, but the answer is lost: the writer must retry safely."""

        failed = False

        def __call__(self, engine: Engine, rows: list[dict[str, Any]], stmt: Any = None) -> None:
            write_rows(engine, rows, stmt)
            if not self.failed:
                self.failed = True
                raise OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(eventlog_mod, "write_rows", CommitThenFail())
    log = EventLog(
        engine, "srv1", DatabaseConfig(batch_size=100, flush_interval=0.01, retry_min=0.01)
    )
    for i in range(5):
        log.append(ev(i))
    await run_until_drained(log)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AMIEvent)) == 5


async def test_without_a_spool_the_bound_grows_rather_than_dropping(engine: Engine) -> None:
    log = EventLog(engine, "srv1", DatabaseConfig(buffer_limit=4), spool_dir=None)
    for i in range(9):
        log.append(ev(i))
    assert log.pending == 9
    assert log.buffer_limit >= 9


def test_migration_is_idempotent(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AMIEvent)) == 0
