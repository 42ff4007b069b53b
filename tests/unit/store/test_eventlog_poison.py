"""Poison events: what the database refuses is quarantined byte for byte, a safe form is
stored in its place, and the writer goes on (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from callcenter.store.db import make_engine, migrate
from callcenter.store.eventlog import QUARANTINE_HEADER, EventLog, event_row
from callcenter.store.models import AMIEvent, QuarantineRow
from callcenter.store.settings import DatabaseConfig

POISON: dict[str, dict[str, str]] = {
    "nul": {"Event": "Newchannel", "Uniqueid": "p1", "CallerIDName": "a\x00b"},
    "long_event": {"Event": "E" * 200, "Uniqueid": "p2"},
    "long_uniqueid": {"Event": "Newchannel", "Uniqueid": "u" * 100},
    "long_linkedid": {"Event": "Newchannel", "Uniqueid": "p4", "Linkedid": "l" * 100},
    "long_actionid": {"Event": "Newchannel", "Uniqueid": "p5", "ActionID": "a" * 100},
    "surrogate": {"Event": "Newchannel", "Uniqueid": "p6", "CallerIDName": "x\udcffy"},
    "surrogate_in_event": {"Event": "New\udcff", "Uniqueid": "p7"},
    "timestamp": {"Event": "Hangup", "Uniqueid": "p8", "Timestamp": "1e19"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'ev.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    with eng.begin() as conn:
        conn.execute(delete(AMIEvent))
        conn.execute(delete(QuarantineRow))
    yield eng


def normal(i: int) -> dict[str, str]:
    return {"Event": "Newstate", "Uniqueid": f"n{i}", "Linkedid": "L", "CallerIDName": "山田"}


def rows(engine: Engine) -> list[tuple[int, dict[str, Any], str, str | None]]:
    with engine.connect() as conn:
        got = conn.execute(
            select(AMIEvent.seq, AMIEvent.headers, AMIEvent.event, AMIEvent.uniqueid).order_by(
                AMIEvent.seq
            )
        ).all()
    return [(r[0], dict(r[1]), r[2], r[3]) for r in got]


def quarantined(engine: Engine) -> dict[int, tuple[str, str, bytes]]:
    with engine.connect() as conn:
        got = conn.execute(
            select(
                QuarantineRow.id, QuarantineRow.kind, QuarantineRow.error, QuarantineRow.original
            )
        ).all()
    return {r[0]: (r[1], r[2], bytes(r[3])) for r in got}


async def drain(log: EventLog) -> None:
    await log.stop()
    await log.run()


async def test_poison_events_are_quarantined_and_the_log_goes_on(engine: Engine) -> None:
    log = EventLog(engine, "srv1", DatabaseConfig(batch_size=50, flush_interval=0.01))
    sent: dict[int, dict[str, str]] = {}
    seq = 0
    for headers in POISON.values():
        for _ in range(3):  # normal events around each poison, in the same batch
            log.append(normal(seq))
            seq += 1
            sent[seq] = normal(seq - 1)
        log.append(headers)
        seq += 1
        sent[seq] = headers
    for i in range(5):
        log.append(normal(100 + i))
        seq += 1
        sent[seq] = normal(100 + i)
    await drain(log)

    stored = rows(engine)
    assert [r[0] for r in stored] == list(range(1, seq + 1))  # every event, each once
    q = quarantined(engine)
    refused = set()
    for s, headers, event, uniqueid in stored:
        original = sent[s]
        if QUARANTINE_HEADER not in headers:
            assert headers == original  # stored as it came
            continue
        qid = int(headers.pop(QUARANTINE_HEADER))
        kind, error, raw = q[qid]
        assert kind == "ami_event"
        assert error  # type and first line of the refusal
        assert json.loads(raw) == original  # the original, exactly (NULs, surrogates)
        refused.add(next(k for k, v in POISON.items() if v == original))
        # The safe form: storable text, columns cut to their length.
        assert len(event) <= 80
        assert uniqueid is None or len(uniqueid) <= 64
        assert "\x00" not in json.dumps(headers, ensure_ascii=False)
    assert len(q) == len(refused) == log.stats.quarantined
    assert "timestamp" not in refused  # a nonsense Timestamp is just text to the log
    if engine.dialect.name == "postgresql":
        assert refused == set(POISON) - {"timestamp"}
    else:
        # SQLite takes NULs and any length; only text that cannot be UTF-8 is refused.
        assert refused == {"surrogate", "surrogate_in_event"}


async def test_replaying_a_poison_event_does_not_quarantine_it_twice(
    engine: Engine, tmp_path: Path
) -> None:
    log = EventLog(engine, "srv1", DatabaseConfig(flush_interval=0.01))
    log.append(POISON["surrogate"])
    log.append(normal(1))
    batch = list(log.iter_buffer())
    await drain(log)
    assert await log._write_retrying(batch)  # as a replay after a lost commit would
    assert len(rows(engine)) == 2
    assert len(quarantined(engine)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Event": None, "Uniqueid": 5, 7: b"\xff"},
        {"Event": "x\udcff", "Timestamp": "nan"},
    ],
)
def test_event_row_never_raises(headers: Any) -> None:
    for received in (0.0, 1e19, float("nan"), float("inf"), -1e30):
        row = event_row(headers, received, "srv1", "run", 1)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in row["headers"].items())


def test_event_row_survives_an_unreadable_mapping() -> None:
    class Broken(dict[str, str]):
        def items(self) -> Any:
            raise RuntimeError("boom")

    row = event_row(Broken(), 1.0, "srv1", "run", 1)
    assert row["headers"] == {"X-Callcenter-Unreadable": "RuntimeError"}


def test_a_receive_time_is_the_same_datetime_for_every_event_of_a_read() -> None:
    # The events of one socket read share their receive time, turned into a datetime
    # once; a nonsense one is still now, each time, never a time kept from before.
    first = event_row({"Event": "A"}, 1_700_000_000.25, "srv1", "run", 1)["received_at"]
    second = event_row({"Event": "B"}, 1_700_000_000.25, "srv1", "run", 2)["received_at"]
    assert first is second
    assert first == datetime.fromtimestamp(1_700_000_000.25, UTC)
    other = event_row({"Event": "C"}, 1_700_000_001.5, "srv1", "run", 3)["received_at"]
    assert other == datetime.fromtimestamp(1_700_000_001.5, UTC)
    for nonsense in (float("nan"), float("inf")):
        before = datetime.now(UTC)
        at = event_row({"Event": "D"}, nonsense, "srv1", "run", 4)["received_at"]
        assert before <= at <= datetime.now(UTC)
