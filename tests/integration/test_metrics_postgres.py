"""The same calls in a private PostgreSQL and in SQLite give the same figures."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, delete, select, update

from callcenter.metrics import (
    GROUPINGS,
    Grouping,
    combine,
    compute_figures,
    compute_grouped,
    query_figures,
    query_figures_by,
)
from callcenter.metrics.cells import CELLS
from callcenter.store.calls import TABLE as CALLS
from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord
from tests.support.postgres import PostgresServer
from tests.unit.metrics.records import (
    CFG,
    TZ,
    answered,
    assert_same,
    assert_same_groups,
    in_period,
    jst,
    load,
    random_calls,
)

# Late May to early July, so months, days and hours all have several groups; plus calls
# on the exact edges of local days.
RECORDS: list[CallRecord] = [
    *random_calls(random.Random(20240601), 600, jst(2024, 5, 28), 37 * 86400),
    answered(20.0, arrived=jst(2024, 6, 1, 0, 0, 0), server="edge"),
    answered(20.000001, arrived=jst(2024, 6, 30, 23, 59, 59), server="edge"),
    answered(19.5, arrived=jst(2024, 7, 1, 0, 0, 0), server="edge"),
]


@dataclass
class Databases:
    sqlite: Engine
    postgres: Engine


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    pg = PostgresServer()
    engines: list[Engine] = []
    try:
        pg.start()
        for url in (f"sqlite:///{tmp_path_factory.mktemp('m') / 'calls.db'}", pg.url):
            engine = make_engine(url)
            engines.append(engine)
            migrate(engine)
            load(engine, RECORDS)
        yield Databases(*engines)
    finally:
        for engine in engines:
            engine.dispose()
        pg.destroy()


PERIODS = [
    ("2024-06-01", "2024-07-01"),
    ("2024-05-31", "2024-06-01"),
    ("2024-06-30", "2024-07-02"),
    ("2024-01-01", "2025-01-01"),
    ("2023-01-01", "2023-02-01"),  # no calls
]


@pytest.mark.parametrize(("day_from", "day_to"), PERIODS)
def test_same_figures_on_both(dbs: Databases, day_from: str, day_to: str) -> None:
    want = compute_figures(in_period(RECORDS, day_from, day_to), CFG)
    for engine in (dbs.sqlite, dbs.postgres):
        assert_same(query_figures(engine, CFG, day_from, day_to), want)
        for queue in ("support", "billing"):
            assert_same(
                query_figures(engine, CFG, day_from, day_to, queue=queue),
                compute_figures(
                    [r for r in in_period(RECORDS, day_from, day_to) if r.queue == queue], CFG
                ),
            )
        assert_same(
            query_figures(engine, CFG, day_from, day_to, server_id="lab2"),
            compute_figures(
                [r for r in in_period(RECORDS, day_from, day_to) if r.server_id == "lab2"], CFG
            ),
        )


@pytest.mark.parametrize("by", GROUPINGS)
def test_same_groups_on_both(dbs: Databases, by: Grouping) -> None:
    day_from, day_to = "2024-05-01", "2024-08-01"
    want = compute_grouped(in_period(RECORDS, day_from, day_to), CFG, by, TZ)
    lite = query_figures_by(dbs.sqlite, CFG, by, day_from, day_to)
    pg = query_figures_by(dbs.postgres, CFG, by, day_from, day_to)
    assert_same_groups(lite, want)
    assert_same_groups(pg, want)
    assert_same(combine(pg.values(), CFG), query_figures(dbs.postgres, CFG, day_from, day_to))
    if by == "month":
        assert list(pg) == ["2024-05", "2024-06", "2024-07"]
    if by == "hour":
        assert all(isinstance(k, int) and 0 <= k <= 23 for k in pg)
        assert len(pg) == 24  # 600 calls over five weeks reach every hour
    if by == "day":
        assert list(pg)[:1] == ["2024-05-28"]
        assert len(pg) == 37


def test_postgres_values_are_plain_numbers(dbs: Databases) -> None:
    f = query_figures(dbs.postgres, CFG, "2024-06-01", "2024-07-01")
    d = f.to_dict()
    json.dumps(d)  # no Decimal from SUM
    assert all(type(d[k]) is int for k in ("calls", "answered", "busy", "answered_within_sl"))
    # The edge calls: 06-01 00:00 (waited 20.0 s: within) and 06-30 23:59:59 (20.000001 s:
    # not within) are June's; 07-01 00:00 is July's.
    for engine in (dbs.sqlite, dbs.postgres):
        june = query_figures(engine, CFG, "2024-06-01", "2024-07-01", server_id="edge")
        assert (june.answered, june.answered_within_sl) == (2, 1)
        july = query_figures(engine, CFG, "2024-07-01", "2024-08-01", server_id="edge")
        assert (july.answered, july.answered_within_sl) == (1, 1)


def test_postgres_cells_follow_writes_and_concurrent_readers(dbs: Databases) -> None:
    """On PostgreSQL the stamp trigger is a PL/pgSQL function, and several daemons may
    refresh the same days at once: each reader gets the exact figures, and the cells of
    a day are stored once (a refresher waits on the other's claim of the day)."""
    day_from, day_to = "2024-04-01", "2024-04-08"  # a week of its own, cold
    week = random_calls(random.Random(7), 300, jst(2024, 4, 1), 7 * 86400 - 1)
    write_calls(dbs.postgres, [call_row(r, TZ) for r in week])
    want = compute_figures(week, CFG)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: query_figures(dbs.postgres, CFG, day_from, day_to), range(8)))
    for f in got:
        assert_same(f, want)
    with dbs.postgres.connect() as conn:
        cells = conn.execute(
            select(CELLS.c.server_id, CELLS.c.local_day, CELLS.c.local_hour, CELLS.c.queue).where(
                CELLS.c.local_day >= day_from, CELLS.c.local_day < day_to
            )
        ).all()
    assert len(cells) == len(set(cells)) > 0
    # A rewrite through the live writer's upsert (an estimate replaced by the real call).
    more = answered(3.0, arrived=jst(2024, 4, 2, 9, 0, 0))
    write_calls(dbs.postgres, [call_row(more, TZ)])
    assert_same(
        query_figures(dbs.postgres, CFG, day_from, day_to), compute_figures([*week, more], CFG)
    )
    # An UPDATE that moves a call to another day, and a DELETE: statement-level triggers
    # stamp every day the statement touched, old and new.
    with dbs.postgres.begin() as conn:
        conn.execute(
            update(CALLS).where(CALLS.c.linkedid == more.linkedid).values(local_day="2024-04-07")
        )
    assert query_figures(dbs.postgres, CFG, "2024-04-02", "2024-04-03").calls == sum(
        1 for r in week if call_row(r, TZ)["local_day"] == "2024-04-02"
    )
    assert query_figures(dbs.postgres, CFG, day_from, day_to).calls == len(week) + 1
    with dbs.postgres.begin() as conn:
        conn.execute(delete(CALLS).where(CALLS.c.linkedid == more.linkedid))
    assert_same(query_figures(dbs.postgres, CFG, day_from, day_to), want)
