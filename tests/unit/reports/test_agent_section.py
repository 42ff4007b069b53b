"""Agent activity in the monthly report: the hand-computed day (logged in 08:30-12:00,
paused 10:00-10:15 for 'break', talking 40 minutes, 30 s wrap-up per call) gives the
exact figures in the JSON and the xlsx, as GET /activity has them."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from callcenter.agents.record import rebuild_activity
from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.monthly import build, render
from callcenter.reports.sections.agents import agent_activity
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.db import make_engine, migrate
from tests.unit.store.test_agent_events import DAY, SERVER, TZ, at, covered, store_log


def test_the_hand_computed_day_in_the_monthly_report(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    store_log(engine, DAY)
    start = datetime(2026, 6, 1, tzinfo=TZ)
    rebuild_activity(engine, SERVER, start, start + timedelta(days=1))
    covered(engine, at("07:00"), at("23:00"))
    report = build(
        engine,
        ServiceConfig(),
        MetricsConfig(),
        "2026-06",
        IncidentTargets(),
        datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
        (agent_activity(SERVER, {"support": 30.0}),),
    )
    doc = json.loads(render(report, "json", "en"))
    section = doc["sections"]["agent_activity"]
    table = section["tables"]["agent_activity"]
    (row,) = table["rows"]
    assert dict(zip(table["columns"], row, strict=True)) == {
        "agent": "agent1",
        "login": 210.0,  # minutes
        "pause": 15.0,
        "talk": 40.0,
        "wrapup": 1.0,
        "calls": 2,
        "occupancy": 2460 / 11700,
    }
    reasons = section["tables"]["pause_reasons"]["rows"]
    assert reasons == [["agent1", "break", 15.0]]
    # The xlsx: the same numbers in their named table.
    book = load_workbook(io.BytesIO(render(report, "xlsx", "ja")), data_only=True)
    found = [
        [c.value for c in r]
        for ws in book.worksheets
        for r in ws.iter_rows()
        if any(c.value == "agent1" for c in r)
    ]
    assert [round(v, 6) for v in found[0][1:6]] == [210, 15, 40, 1, 2]
    assert abs(found[0][6] - 2460 / 11700) < 1e-12
