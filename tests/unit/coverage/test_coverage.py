"""Coverage: the stretches the record covers, and the gaps it names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from callcenter.coverage import (
    COVERAGE,
    CoverageKeeper,
    merge,
    query_coverage,
    uncovered,
)
from callcenter.pbxrecord.reader import CURSOR, RECORD
from callcenter.store.db import make_engine, migrate

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'cc.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def test_gaps_are_what_no_interval_covers() -> None:
    covered = [(at(10), at(20)), (at(15), at(30)), (at(40), at(50))]
    assert merge(covered) == [(at(10), at(30)), (at(40), at(50))]
    assert uncovered(at(0), at(60), covered) == [
        (at(0), at(10)),
        (at(30), at(40)),
        (at(50), at(60)),
    ]
    assert uncovered(at(12), at(28), covered) == []
    assert uncovered(at(0), at(60), []) == [(at(0), at(60))]


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 30)).map(
            lambda t: (at(t[0]), at(t[0] + t[1]))
        ),
        max_size=8,
    )
)
def test_gaps_and_cover_partition_the_period(covered: list[tuple[datetime, datetime]]) -> None:
    gaps = uncovered(at(0), at(120), covered)
    for minute in range(120):
        t = at(minute + 0.5)
        in_gap = any(s <= t < e for s, e in gaps)
        in_cover = any(s <= t < e for s, e in covered)
        assert in_gap != in_cover


def test_a_period_is_complete_when_ami_and_the_pbx_record_cover_it(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(COVERAGE),
            [
                {"server_id": "pbx1", "source": "ami", "run_id": "r1",
                 "started_at": at(0), "ended_at": at(30)},
                {"server_id": "pbx1", "source": "ami", "run_id": "r2",
                 "started_at": at(45), "ended_at": at(90)},
            ],
        )  # fmt: skip
    (pbx1,) = query_coverage(engine, at(0), at(60), now=at(100))
    assert not pbx1.complete
    assert pbx1.gaps == [(at(30), at(45))]
    # The PBX record, read from minute 20 to 50, covers the daemon's 15 minutes away.
    with engine.begin() as conn:
        conn.execute(
            insert(RECORD).values(
                server_id="pbx1", source="cel", line_hash="h", event_time=at(20), read_at=at(20),
                eventtype="CHAN_START", uniqueid="u", linkedid="u", line="",
            )
        )  # fmt: skip
        conn.execute(
            insert(CURSOR).values(
                server_id="pbx1", source="cel", path="p", inode=1, offset=1,
                reconciled_id=0, read_until=at(50), updated_at=at(50),
            )
        )  # fmt: skip
    (pbx1,) = query_coverage(engine, at(0), at(60), now=at(100))
    assert pbx1.complete
    # The future is no gap; the past before any source is.
    (early,) = query_coverage(engine, at(-10), at(200), now=at(60))
    assert early.gaps == [(at(-10), at(0))]


async def test_the_keeper_records_each_connection_and_ends_it_at_its_last_heartbeat(
    engine: Engine,
) -> None:
    state: dict[str, int | None] = {"conn": None}
    keeper = CoverageKeeper(engine, "pbx1", "run1", lambda: state["conn"], interval=0.05)
    await keeper.tick()  # not connected: nothing
    state["conn"] = 1
    await keeper.tick()
    await asyncio.sleep(0.05)
    await keeper.tick()
    lost_after = datetime.now(UTC)
    state["conn"] = None
    await asyncio.sleep(0.1)
    await keeper.tick()  # the loss: the interval is not stretched over it
    state["conn"] = 2
    await keeper.tick()
    await keeper.tick(final=True)
    with engine.connect() as conn:
        rows = conn.execute(
            select(COVERAGE.c.run_id, COVERAGE.c.started_at, COVERAGE.c.ended_at).order_by(
                COVERAGE.c.id
            )
        ).all()
    assert len(rows) == 2
    first, second = ((r[1].replace(tzinfo=UTC), r[2].replace(tzinfo=UTC)) for r in rows)
    assert first[0] < first[1] <= lost_after  # extended while connected, not past the loss
    assert second[0] > lost_after


async def test_the_keeper_measures_today_for_the_wallboard(engine: Engine) -> None:
    state: dict[str, int | None] = {"conn": 1}
    keeper = CoverageKeeper(engine, "pbx1", "run1", lambda: state["conn"], interval=0.05)
    assert keeper.today is None  # not measured yet: the wallboard shows nothing
    await keeper.tick()
    today = keeper.today
    assert today is not None
    # Connected only from now on: the day so far, from midnight, is not covered.
    assert today["complete"] is False
    (gap,) = today["uncovered"]
    midnight = datetime.fromisoformat(gap["from"]).astimezone(keeper.tz)
    assert (midnight.hour, midnight.minute) == (0, 0)
