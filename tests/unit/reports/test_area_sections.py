"""The other areas' sections in the monthly report. Agent activity: the hand-computed
day (logged in 08:30-12:00, paused 10:00-10:15 for 'break', talking 40 minutes, 30 s
wrap-up per call) gives the exact figures in the JSON and the xlsx, as GET /activity
has them. The follow-up: the recall figures of the month's callers."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from callcenter.agents.record import rebuild_activity
from callcenter.followups.store import FollowupStore
from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics.settings import MetricsConfig
from callcenter.reports.monthly import build, render
from callcenter.reports.sections.agents import agent_activity
from callcenter.reports.sections.followups import FOLLOWUPS
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.calls import Outcome
from tests.unit.followups.calls import T0, call
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


def test_the_follow_up_in_the_monthly_report(tmp_path: Path) -> None:
    """Two callers abandoned in the month: one called again 15 minutes later and was
    answered (reached), one is still to be called back: 1 of 2 reached, in 15.3 min."""
    engine = make_engine(f"sqlite:///{tmp_path / 'f.db'}")
    migrate(engine)
    store = FollowupStore(engine)
    store.call_finished(call("a1", "0300000001", Outcome.ABANDONED, at=0))
    store.call_finished(call("a2", "0300000002", Outcome.ABANDONED, at=60))
    store.call_finished(call("b1", "0300000001", Outcome.ANSWERED, at=900, answered_after=20))
    month = datetime.fromtimestamp(T0, TZ).strftime("%Y-%m")
    report = build(
        engine,
        ServiceConfig(),
        MetricsConfig(),
        month,
        IncidentTargets(),
        datetime.now(UTC),
        (FOLLOWUPS,),
    )
    doc = json.loads(render(report, "json", "en"))
    rows = doc["sections"]["followups"]["tables"]["followups"]["rows"]
    values = {label[1] if isinstance(label, list) else label: v for label, v in rows}
    assert values["Callers put on the list"] == 2
    assert values["Reached"] == 1
    assert values["of which when they called again"] == 1
    assert values["Not reached yet"] == 1
    assert values["Share reached"] == 0.5
    assert values["Mean time to reach"] == pytest.approx(920 / 60)  # from the first arrival
    # The xlsx has numbers, formatted as a rate and as minutes, not text.
    book = load_workbook(io.BytesIO(render(report, "xlsx", "ja")), data_only=True)
    cells = {
        r[0].value: r[1]
        for ws in book.worksheets
        for r in ws.iter_rows(max_col=2)
        if isinstance(r[0].value, str)
    }
    assert cells["連絡率"].value == 0.5
    assert "%" in cells["連絡率"].number_format
    assert cells["連絡までの平均時間"].value == pytest.approx(920 / 60)
    assert "分" in cells["連絡までの平均時間"].number_format
    assert cells["リスト入りした発信者"].value == 2
    text = render(report, "csv", "ja").decode("utf-8-sig")
    assert "50.0%" in text
    assert "フォローアップ" in render(report, "html", "ja").decode()
