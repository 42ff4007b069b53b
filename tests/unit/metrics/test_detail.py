"""The call detail adds up to the figures: from its rows, by their flags, every rate of
``query_figures`` is recomputed exactly, for any filter."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Engine

from callcenter.metrics import query_figures
from callcenter.metrics.detail import CallFilter, iter_calls, query_calls
from callcenter.store.db import make_engine, migrate
from tests.unit.metrics.records import CFG, T0, load, random_calls


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'calls.db'}")
    migrate(e)
    rng = random.Random(20261204)
    load(e, random_calls(rng, 600, T0, 3 * 86400))
    return e


@pytest.mark.parametrize(
    "where",
    [
        {},
        {"queue": "support"},
        {"server_id": "lab2"},
        {"agent": "高橋"},
        {"outcomes": ("answered", "abandoned")},
    ],
)
def test_the_rows_flags_recompute_every_rate(engine: Engine, where: dict[str, object]) -> None:
    f = CallFilter("2024-06-01", "2024-06-04", **where)  # type: ignore[arg-type]
    rows = iter_calls(engine, CFG, f)
    assert rows, where
    incoming = sum(r["incoming"] for r in rows)
    if not where.get("agent") and not where.get("outcomes"):
        # The figures filter by queue and server; the rows by anything: compare like with like.
        fig = query_figures(
            engine, CFG, "2024-06-01", "2024-06-04", queue=f.queue, server_id=f.server_id
        )
        assert len(rows) == fig.calls
        assert incoming == fig.total_incoming
        assert sum(r["abandoned"] for r in rows) == fig.abandoned
        assert sum(r["busy"] for r in rows) == fig.busy
        assert sum(r["within_sl"] for r in rows) == fig.answered_within_sl
        assert sum(r["abandoned"] for r in rows) / incoming == fig.abandonment_rate
        assert sum(r["within_sl"] for r in rows) / incoming == fig.service_level
    else:
        for r in rows:
            if "agent" in where:
                assert r["agent"] == where["agent"]
            if "outcomes" in where:
                assert r["outcome"] in where["outcomes"]  # type: ignore[operator]


def test_pages_cover_every_row_once_oldest_first(engine: Engine) -> None:
    f = CallFilter("2024-06-01", "2024-06-04")
    every = iter_calls(engine, CFG, f)
    seen = []
    offset = 0
    while True:
        page, total = query_calls(engine, CFG, f, limit=97, offset=offset)
        assert total == len(every)
        if not page:
            break
        seen.extend(page)
        offset += len(page)
    assert [r["linkedid"] for r in seen] == [r["linkedid"] for r in every]
    assert [r["arrived_at"] for r in seen] == sorted(r["arrived_at"] for r in seen)
