"""Several PBXs on one database in the monthly report: figures by server, and a queue
name that repeats across servers reported apart (name@server) or merged."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.monthly import build, render
from callcenter.reports.sections.calls import gather
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.callrows import call_row
from tests.unit.metrics.records import TZ, abandoned, answered, jst

CFG = MetricsConfig()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(eng)
    calls = [
        answered(10.0, arrived=jst(2024, 6, 3, 9), server="pbx1"),
        answered(30.0, arrived=jst(2024, 6, 3, 10), server="pbx1", queue="billing"),
        answered(20.0, arrived=jst(2024, 6, 4, 9), server="pbx2"),
        abandoned(40.0, arrived=jst(2024, 6, 4, 11), server="pbx2"),
    ]
    write_calls(eng, [call_row(c, TZ) for c in calls])
    yield eng
    eng.dispose()


def test_a_repeated_queue_name_apart_or_merged(engine: Engine) -> None:
    apart = gather(engine, CFG, "2024-06-01", "2024-07-01", "apart")
    assert {k: f.calls for k, f in apart["queue"].items()} == {
        "billing": 1, "support@pbx1": 1, "support@pbx2": 2}  # fmt: skip
    merged = gather(engine, CFG, "2024-06-01", "2024-07-01", "merged")
    assert {k: f.calls for k, f in merged["queue"].items()} == {"billing": 1, "support": 3}
    assert merged["queue"]["support"].abandoned == 1
    assert {k: f.calls for k, f in apart["server"].items()} == {"pbx1": 2, "pbx2": 2}


def test_the_report_has_figures_by_server(engine: Engine) -> None:
    report = build(engine, ServiceConfig(), CFG, "2024-06", IncidentTargets(),
                   datetime(2024, 7, 1, tzinfo=UTC))  # fmt: skip
    doc = json.loads(render(report, "json", "en"))
    assert doc["calls_by_server"]["pbx1"]["answered"] == 2
    assert doc["calls_by_server"]["pbx2"]["abandoned"] == 1
    assert set(doc["calls_by_queue"]) == {"billing", "support@pbx1", "support@pbx2"}
    book = load_workbook(io.BytesIO(render(report, "xlsx", "ja")), data_only=True)
    rows = [[c.value for c in r] for ws in book.worksheets for r in ws.iter_rows()]
    by_server = [r for r in rows if r[0] in ("pbx1", "pbx2")]
    assert [(r[0], r[1], r[2]) for r in by_server] == [("pbx1", 2, 2), ("pbx2", 2, 1)]
    assert any("サーバー別の実績" in str(r[0]) for r in rows)
