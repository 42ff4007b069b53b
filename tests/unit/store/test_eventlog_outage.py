"""The event log through a long outage (on a fake clock) and under spills: nothing lost,
nothing doubled, the loop never blocked by the spool."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from callcenter.store import eventlog as eventlog_mod
from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import EventLog, write_rows
from callcenter.store.models import AMIEvent
from callcenter.store.settings import DatabaseConfig

HOUR = 3600.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'ev.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def seqs(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(select(AMIEvent.run_id, AMIEvent.seq))]


def ev(i: int) -> dict[str, str]:
    return {"Event": "Newchannel", "Uniqueid": f"u{i}", "CallerIDName": "山田 太郎" * 4}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        await asyncio.sleep(0)


async def test_a_three_hour_outage_loses_and_doubles_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    attempts = {"failed": 0, "ok": 0}

    def database(engine: Engine, rows: list[dict[str, Any]], stmt: Any = None) -> None:
        if clock.now < 3 * HOUR:
            attempts["failed"] += 1
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        write_rows(engine, rows, stmt)
        attempts["ok"] += 1
        if attempts["ok"] == 1:  # the first commit after the outage: its answer is lost
            raise OperationalError("COMMIT", {}, Exception("connection reset"))

    monkeypatch.setattr(eventlog_mod, "write_rows", database)
    log = EventLog(
        engine,
        "srv1",
        DatabaseConfig(batch_size=100, flush_interval=0.001, retry_max=5.0),
        sleep=clock.sleep,
    )
    task = asyncio.create_task(log.run())
    for i in range(250):
        log.append(ev(i))
    during = 0
    while clock.now < 3 * HOUR:  # events go on arriving through the outage
        await asyncio.sleep(0)
        if clock.now > HOUR and during < 50:
            log.append(ev(1000 + during))
            during += 1
    while log.pending:
        await asyncio.sleep(0.001)
    await log.stop()
    await asyncio.wait_for(task, 10)

    assert attempts["failed"] >= 2000  # past the 1,025th failure, where 2**n overflowed
    assert log.stats.failures == attempts["failed"] + 1
    assert clock.now >= 3 * HOUR
    stored = seqs(engine)
    assert sorted(s for _, s in stored) == list(range(1, 301))  # all, each once
    assert log.healthy


async def test_a_spill_is_written_off_the_loop(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        eventlog_mod,
        "write_rows",
        lambda *a: (_ for _ in ()).throw(OperationalError("INSERT", {}, Exception("down"))),
    )
    threads: list[threading.Thread] = []
    real = eventlog_mod._write_spool

    def slow_spool(path: Path, rows: list[dict[str, Any]]) -> None:
        threads.append(threading.current_thread())
        time.sleep(0.5)  # a slow disk: 200,000 rows and an fsync
        real(path, rows)

    monkeypatch.setattr(eventlog_mod, "_write_spool", slow_spool)
    spool = tmp_path / "spool"
    log = EventLog(
        engine, "srv1", DatabaseConfig(buffer_limit=5000, retry_min=0.01), spool_dir=spool
    )
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    t = asyncio.create_task(ticker())
    started = time.monotonic()
    for i in range(5000):
        log.append(ev(i))  # the 5,000th hands the buffer over and returns at once
    assert time.monotonic() - started < 0.4
    assert log.pending == 5000  # held until on disk
    await log.wait_spills()
    t.cancel()
    assert threads
    assert all(th is not threading.main_thread() for th in threads)
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 20
    assert max(gaps) < 0.25
    assert log.pending == 0
    assert len(list(spool.glob("*.jsonl"))) == 1


async def test_spools_are_replayed_after_a_restart_once_in_chunks_off_the_loop(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*a: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("down"))

    monkeypatch.setattr(eventlog_mod, "write_rows", down)
    spool = tmp_path / "spool"
    first = EventLog(
        engine,
        "srv1",
        DatabaseConfig(batch_size=50, buffer_limit=300, retry_min=0.001),
        spool_dir=spool,
    )
    task = asyncio.create_task(first.run())
    for i in range(1000):
        first.append(ev(i))
        if i % 100 == 0:
            await asyncio.sleep(0)
    await first.stop()
    await asyncio.wait_for(task, 10)
    files = sorted(spool.glob("*.jsonl"))
    assert len(files) >= 3
    assert first.pending == 0
    assert [p.name for p in files] == sorted(p.name for p in files)

    # The database is back; the next run replays what this one left, a chunk at a time.
    monkeypatch.setattr(eventlog_mod, "write_rows", write_rows)
    chunks: list[tuple[int, bool]] = []
    real = eventlog_mod._read_lines

    def reading(f: IO[str], n: int) -> list[str]:
        lines = real(f, n)
        chunks.append((len(lines), threading.current_thread() is threading.main_thread()))
        return lines

    monkeypatch.setattr(eventlog_mod, "_read_lines", reading)
    second = EventLog(
        engine, "srv1", DatabaseConfig(batch_size=50, flush_interval=0.01), spool_dir=spool
    )
    task = asyncio.create_task(second.run())
    while list(spool.glob("*.jsonl")):
        await asyncio.sleep(0.01)
    await second.stop()
    await asyncio.wait_for(task, 10)
    stored = seqs(engine)
    assert sorted(s for _, s in stored) == list(range(1, 1001))
    assert {r for r, _ in stored} == {first.run_id}
    assert second.stats.replayed == 1000
    assert max(n for n, _ in chunks) <= 50  # never the whole file at once
    assert not any(on_main for _, on_main in chunks)


async def test_a_writer_that_died_mid_batch_loses_nothing_when_run_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*a: Any) -> None:
        raise RuntimeError("a bug")  # not a database error at all

    log = EventLog(engine, "srv1", DatabaseConfig(batch_size=10, flush_interval=0.01))
    for i in range(25):
        log.append(ev(i))
    monkeypatch.setattr(eventlog_mod, "quarantine_row", crash)
    monkeypatch.setattr(eventlog_mod, "write_rows", crash)
    task = asyncio.create_task(log.run())
    await asyncio.sleep(0.3)
    task.cancel()  # as a supervisor's stop would
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    await log.stop()
    await log.run()
    assert sorted(s for _, s in seqs(engine)) == list(range(1, 26))


async def test_a_damaged_spool_line_is_quarantined_and_the_rest_replayed(
    engine: Engine, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    first = EventLog(engine, "srv1", spool_dir=spool)
    for i in range(3):
        first.append(ev(i))
    await asyncio.to_thread(first._spill)  # off the loop: written at once
    [path] = spool.glob("*.jsonl")
    good = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(good[0] + b'{"not": "a row"}\n' + b"\xff\xfe garbage\n" + b"".join(good[1:]))

    second = EventLog(engine, "srv1", DatabaseConfig(flush_interval=0.01), spool_dir=spool)
    await second.stop()
    await second.run()
    assert sorted(s for _, s in seqs(engine)) == [1, 2, 3]
    assert second.stats.quarantined == 2
    assert not list(spool.glob("*.jsonl"))
