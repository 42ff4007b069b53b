"""Figures aggregated by SQLite equal the pure figures over the same calls."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from callcenter.metrics import (
    GROUPINGS,
    CallFigures,
    Grouping,
    check_day,
    combine,
    compute_figures,
    compute_grouped,
    figures_statement,
    query_figures,
    query_figures_by,
)
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.calls import CallRecord
from tests.unit.metrics.records import (
    CFG,
    TZ,
    abandoned,
    answered,
    assert_same,
    assert_same_groups,
    in_period,
    jst,
    load,
    random_calls,
    short,
)

DAYS = ["2024-05-30", "2024-05-31", "2024-06-01", "2024-06-02", "2024-06-03"]
START = jst(2024, 5, 30)  # the records span the four local days from here


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'calls.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


@st.composite
def periods(draw: st.DrawFn) -> tuple[str, str]:
    i = draw(st.integers(0, len(DAYS) - 2))
    j = draw(st.integers(i + 1, len(DAYS) - 1))
    return DAYS[i], DAYS[j]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 60), period=periods())
def test_sql_equals_python_for_random_calls(
    engine: Engine, seed: int, n: int, period: tuple[str, str]
) -> None:
    records = random_calls(random.Random(seed), n, START, 4 * 86400 - 1)
    load(engine, records)
    day_from, day_to = period
    chosen = in_period(records, day_from, day_to)
    assert_same(query_figures(engine, CFG, day_from, day_to), compute_figures(chosen, CFG))
    assert_same(
        query_figures(engine, CFG, day_from, day_to, queue="billing"),
        compute_figures([r for r in chosen if r.queue == "billing"], CFG),
    )
    assert_same(
        query_figures(engine, CFG, day_from, day_to, server_id="lab2"),
        compute_figures([r for r in chosen if r.server_id == "lab2"], CFG),
    )
    for by in GROUPINGS:
        assert_same_groups(
            query_figures_by(engine, CFG, by, day_from, day_to),
            compute_grouped(chosen, CFG, by, TZ),
        )


# Calls around the edges of local days (Asia/Tokyo is UTC+9, so 00:00 local is 15:00 UTC).
EDGES = {
    "2024-05-31 23:59:59.5": abandoned(30, arrived=jst(2024, 5, 31, 23, 59, 59) + 0.5),
    "2024-06-01 00:00:00": answered(10, arrived=jst(2024, 6, 1, 0, 0, 0)),
    "2024-06-01 23:59:59": answered(25, arrived=jst(2024, 6, 1, 23, 59, 59), queue="billing"),
    "2024-06-02 00:00:00": answered(5, arrived=jst(2024, 6, 2, 0, 0, 0)),
}


@pytest.mark.parametrize(
    ("day_from", "day_to", "included"),
    [
        ("2024-06-01", "2024-06-02", ["2024-06-01 00:00:00", "2024-06-01 23:59:59"]),
        ("2024-05-31", "2024-06-01", ["2024-05-31 23:59:59.5"]),
        ("2024-06-02", "2024-06-03", ["2024-06-02 00:00:00"]),  # the `to` day is excluded
        ("2024-05-31", "2024-06-03", list(EDGES)),
        ("2024-05-01", "2024-05-31", []),
    ],
)
def test_period_is_from_included_to_excluded_in_local_days(
    engine: Engine, day_from: str, day_to: str, included: list[str]
) -> None:
    load(engine, list(EDGES.values()))
    got = query_figures(engine, CFG, day_from, day_to)
    assert_same(got, compute_figures([EDGES[k] for k in included], CFG))
    assert got.calls == len(included)


def test_each_grouping_keys_and_figures(engine: Engine) -> None:
    records = [
        *EDGES.values(),
        answered(15, arrived=jst(2024, 6, 30, 23, 0), agent="agent2", queue="billing"),
        abandoned(40, arrived=jst(2024, 7, 1, 8, 0), queue=None),
        short(arrived=jst(2024, 7, 1, 8, 30)),
    ]
    load(engine, records)
    expected_keys: dict[Grouping, list[object]] = {
        "queue": ["billing", "support", None],  # no queue: last
        "agent": ["agent1", "agent2", None],  # None: the calls no agent answered
        "hour": [0, 8, 23],
        "day": ["2024-05-31", "2024-06-01", "2024-06-02", "2024-06-30", "2024-07-01"],
        "month": ["2024-05", "2024-06", "2024-07"],
        "server": ["lab"],
    }
    whole = query_figures(engine, CFG, "2024-05-01", "2024-08-01")
    assert whole.calls == 7
    for by in GROUPINGS:
        groups = query_figures_by(engine, CFG, by, "2024-05-01", "2024-08-01")
        assert list(groups) == expected_keys[by], by
        assert_same_groups(groups, compute_grouped(records, CFG, by, TZ))
        # Every call is in one group: the groups add up to the whole.
        assert_same(combine(groups.values(), CFG), whole)
    month = query_figures_by(engine, CFG, "month", "2024-05-01", "2024-08-01")
    assert (month["2024-05"].abandoned, month["2024-06"].answered) == (1, 4)
    assert (month["2024-07"].abandoned, month["2024-07"].short_abandoned) == (1, 1)


def test_grouping_with_queue_filter(engine: Engine) -> None:
    records = list(EDGES.values())
    load(engine, records)
    got = query_figures_by(engine, CFG, "hour", "2024-06-01", "2024-06-03", queue="support")
    assert list(got) == [0]
    assert got[0].answered == 2  # 06-01 00:00 and 06-02 00:00; the 23:59 one is billing


def test_empty_table(engine: Engine) -> None:
    load(engine, [])
    assert query_figures(engine, CFG, "2024-06-01", "2024-07-01") == CallFigures(CFG)
    assert query_figures_by(engine, CFG, "day", "2024-06-01", "2024-07-01") == {}


def test_exact_service_level_boundary_survives_storage(engine: Engine) -> None:
    records: list[CallRecord] = [answered(20.0), answered(20.000001), answered(19.999999)]
    load(engine, records)
    assert query_figures(engine, CFG, "2024-06-01", "2024-06-02").answered_within_sl == 2


@pytest.mark.parametrize(
    "bad",
    ["2024-6-1", "20240601", "2024-02-30", "2024-13-01", "", "x", "2024-06-01\n", "２０２４-06-01"],
)
def test_days_must_be_spelled_yyyy_mm_dd(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a day"):
        check_day(bad)
    with pytest.raises(ValueError, match="is not a day"):
        figures_statement(CFG, bad, "2024-07-01")


@pytest.mark.parametrize(
    ("queue", "index"), [(None, "ix_calls_day"), ("support", "ix_calls_queue_day")]
)
def test_a_short_period_is_read_through_an_index(
    engine: Engine, queue: str | None, index: str
) -> None:
    stmt = figures_statement(CFG, "2024-06-01", "2024-06-02", queue=queue)
    sql = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    detail = " ".join(str(row[-1]) for row in plan)
    assert f"USING INDEX {index}" in detail, detail
