"""The calls writer: a call that cannot be built or is refused is quarantined, the rest
is stored, outages are retried, and the writer never dies of a bad call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError, OperationalError

from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import Call, QuarantineRow
from callcenter.telephony import callswriter as callswriter_mod
from callcenter.telephony.calls import CallRecord, Outcome
from callcenter.telephony.callswriter import CallsWriter

TZ = ZoneInfo("Asia/Tokyo")
T = 1_800_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def call(linkedid: str, arrived: float = T) -> CallRecord:
    rec = CallRecord(server_id="lab", linkedid=linkedid, arrived_at=arrived, queue="support")
    rec.ended_at = arrived + 60 if arrived < 1e18 else arrived
    rec.outcome = Outcome.ABANDONED
    return rec


def stored(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(Call.linkedid)))


def quarantined(engine: Engine) -> list[tuple[str, str | None, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(QuarantineRow.kind, QuarantineRow.ref, QuarantineRow.original))
        return [(r[0], r[1], json.loads(bytes(r[2]))) for r in rows]


async def run_once(writer: CallsWriter) -> None:
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(writer.run(stop), 10)


@pytest.mark.parametrize("arrived", [1e19, float("nan"), float("inf")])
async def test_a_call_whose_row_cannot_be_built_is_quarantined(
    engine: Engine, arrived: float
) -> None:
    writer = CallsWriter(engine, TZ)
    for c in (call("ok-1"), call("bad", arrived), call("ok-2")):
        writer.add(c)
    await run_once(writer)
    assert stored(engine) == ["ok-1", "ok-2"]
    [(kind, ref, original)] = quarantined(engine)
    assert (kind, ref) == ("call", "bad")
    assert original["linkedid"] == "bad"
    assert writer.quarantined == 1
    assert not writer.unwritten


async def test_a_call_the_database_refuses_is_quarantined_and_the_rest_stored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(engine: Engine, rows: list[dict[str, Any]]) -> None:
        if any(r["linkedid"] == "refused" for r in rows):
            raise DataError("INSERT", {}, Exception("value too long"))
        write_calls(engine, rows)

    monkeypatch.setattr(callswriter_mod, "write_calls", refusing)
    writer = CallsWriter(engine, TZ)
    for name in ("a", "refused", "b", "c"):
        writer.add(call(name))
    await run_once(writer)
    assert stored(engine) == ["a", "b", "c"]
    assert [q[1] for q in quarantined(engine)] == ["refused"]


async def test_an_outage_is_retried_with_nothing_lost_or_doubled(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    def down_for_a_while(engine: Engine, rows: list[dict[str, Any]]) -> None:
        if len(slept) < 1500:
            raise OperationalError("INSERT", {}, Exception("down"))
        write_calls(engine, rows)

    monkeypatch.setattr(callswriter_mod, "write_calls", down_for_a_while)
    writer = CallsWriter(engine, TZ, retry_min=0.2, retry_max=5.0, sleep=sleep)
    writer.add(call("x"))
    writer.add(call("y"))
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    while not writer.written.is_set():
        await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert stored(engine) == ["x", "y"]
    assert writer.failures == 1500
    assert max(slept) == 5.0  # the bounded backoff, past the old overflow at 1,025
    assert quarantined(engine) == []
