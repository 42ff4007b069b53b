"""The figure cells (metrics.cells): kept beside the calls, recomputed for exactly the
days written since, and never trusted when their stamp or threshold moved."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, func, select, update

from callcenter.metrics import compute_figures, query_figures, query_figures_by
from callcenter.metrics.cells import CELLS, DAYS, STAMPS, refresh, stale_days
from callcenter.store.calls import TABLE, write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord
from tests.unit.metrics.records import CFG, TZ, abandoned, answered, assert_same, jst

D1, D2, D3 = "2024-06-03", "2024-06-04", "2024-06-05"


def _calls() -> list[CallRecord]:
    return [
        answered(10.0, arrived=jst(2024, 6, 3, 9, 0, 0)),
        answered(40.0, arrived=jst(2024, 6, 3, 14, 0, 0), queue="billing"),
        abandoned(30.0, arrived=jst(2024, 6, 4, 10, 0, 0)),
        answered(5.0, arrived=jst(2024, 6, 4, 10, 30, 0), server="lab2"),
    ]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def _write(engine: Engine, records: list[CallRecord]) -> None:
    write_calls(engine, [call_row(r, TZ) for r in records])


def _refresh(engine: Engine, day_from: str = D1, day_to: str = D3, **cfg: object) -> int:
    with engine.begin() as conn:
        return refresh(conn, CFG.model_copy(update=cfg), day_from, day_to)


def test_cells_are_computed_once_then_only_for_the_days_written(engine: Engine) -> None:
    records = _calls()
    _write(engine, records)
    assert _refresh(engine) == 3  # (lab, D1), (lab, D2), (lab2, D2)
    assert _refresh(engine) == 0
    assert_same(query_figures(engine, CFG, D1, D3), compute_figures(records, CFG))

    late = answered(12.0, arrived=jst(2024, 6, 3, 17, 0, 0))
    _write(engine, [late])
    with engine.connect() as conn:
        # One bump per row written: two calls, then the late one.
        assert stale_days(conn, CFG, D1, D3, None) == {("lab", D1): 3}
    assert_same(query_figures(engine, CFG, D1, D3), compute_figures([*records, late], CFG))
    assert _refresh(engine) == 0


def test_a_rewritten_call_moves_its_figures(engine: Engine) -> None:
    records = _calls()
    _write(engine, records)
    assert query_figures(engine, CFG, D1, D2).answered == 2
    # The same call (server, linkedid) rewritten as abandoned, as `calls rebuild` would.
    first = records[0]
    again = dataclasses.replace(abandoned(25.0, arrived=first.arrived_at), linkedid=first.linkedid)
    _write(engine, [again])
    got = query_figures(engine, CFG, D1, D2)
    assert (got.answered, got.abandoned) == (1, 1)
    # ... and moved to another day by an update: both days change.
    with engine.begin() as conn:
        conn.execute(update(TABLE).where(TABLE.c.linkedid == first.linkedid).values(local_day=D2))
    assert query_figures(engine, CFG, D1, D2).calls == 1
    assert query_figures(engine, CFG, D2, D3).calls == 3


def test_deleted_calls_leave_the_figures(engine: Engine) -> None:
    _write(engine, _calls())
    assert query_figures(engine, CFG, D1, D3).calls == 4
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.local_day == D2))
    assert query_figures(engine, CFG, D1, D3).calls == 2
    with engine.connect() as conn:  # the emptied days keep no cell
        assert (
            conn.scalar(select(func.count()).select_from(CELLS).where(CELLS.c.local_day == D2)) == 0
        )


def test_another_service_level_threshold_recomputes(engine: Engine) -> None:
    _write(engine, _calls())
    strict = CFG.model_copy(update={"service_level_seconds": 8})
    lenient = CFG.model_copy(update={"service_level_seconds": 60})
    assert query_figures(engine, strict, D1, D3).answered_within_sl == 1
    assert query_figures(engine, lenient, D1, D3).answered_within_sl == 3
    assert _refresh(engine, service_level_seconds=60) == 0
    assert _refresh(engine, service_level_seconds=8) == 3


def test_cells_match_a_scan_by_every_cell_key(engine: Engine) -> None:
    records = _calls()
    _write(engine, records)
    for by in ("queue", "hour", "day", "month"):
        got = query_figures_by(engine, CFG, by, D1, D3)
        assert sum(f.calls for f in got.values()) == len(records), by
    assert list(query_figures_by(engine, CFG, "queue", D1, D3)) == ["billing", "support"]
    assert_same(
        query_figures(engine, CFG, D1, D3, server_id="lab2"),
        compute_figures([r for r in records if r.server_id == "lab2"], CFG),
    )
    assert_same(
        query_figures(engine, CFG, D1, D3, queue="billing"),
        compute_figures([r for r in records if r.queue == "billing"], CFG),
    )


def test_a_database_that_cannot_be_written_still_answers_from_the_calls(
    engine: Engine, tmp_path: Path
) -> None:
    records = _calls()
    _write(engine, records)
    read_only = create_engine(
        f"sqlite:///file:{tmp_path / 'calls.db'}?mode=ro&uri=true",
    )
    try:
        # Nothing computed yet: the cells cannot be written, the scan answers.
        assert_same(query_figures(read_only, CFG, D1, D3), compute_figures(records, CFG))
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(DAYS)) == 0
    finally:
        read_only.dispose()


def test_the_migration_stamps_the_calls_already_stored(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        migrate(eng, "0014")
        records = _calls()
        _write(eng, records)
        migrate(eng)
        with eng.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(STAMPS)) == 3
        assert_same(query_figures(eng, CFG, D1, D3), compute_figures(records, CFG))
    finally:
        eng.dispose()


def test_wait_buckets_and_definitions_from_cells_equal_a_scan(engine: Engine) -> None:
    from callcenter.metrics.definitions import scan_definitions
    from callcenter.metrics.query import query_definitions, query_wait_buckets
    from callcenter.metrics.sql import wait_buckets_scan

    waits = [3.5, 9.99, 10.0, 25.0, 59.0, 61.0, 119.0, 299.0, 300.0, 1000.0]
    records = [abandoned(w, arrived=jst(2024, 6, 3, 9 + i % 8, 0, i)) for i, w in enumerate(waits)]
    records.append(answered(12.0, arrived=jst(2024, 6, 4, 9)))
    _write(engine, records)
    with engine.begin() as conn:  # one call classified with other definitions
        conn.execute(
            update(TABLE).where(TABLE.c.linkedid == records[0].linkedid).values(definitions="old")
        )
    got = query_wait_buckets(engine, CFG, D1, D3)
    with engine.connect() as conn:
        (scan,) = conn.execute(wait_buckets_scan(D1, D3)).mappings()
    assert got == {k: int(v) for k, v in scan.items()}
    assert [got[f"abandoned_w{i}"] for i in range(7)] == [2, 1, 1, 1, 2, 1, 2]
    assert got["abandoned_wnone"] == 0
    assert query_definitions(engine, CFG, D1, D3) == scan_definitions(engine, D1, D3)
    assert query_definitions(engine, CFG, D1, D3)["old"] == 1
