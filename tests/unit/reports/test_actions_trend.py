"""Improvement actions (the repository the web pages use) and the twelve-month trend."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from callcenter.cli import main
from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics import query_figures
from callcenter.reports.actions import ActionNotFound, ImprovementActions
from callcenter.reports.trend import build_trend
from tests.unit.reports.conftest import MONTH, NOW, Month


def test_actions_are_kept_per_month(month: Month) -> None:
    store = ImprovementActions(month.engine)
    (first,) = store.for_month(MONTH)
    assert (first.owner, first.status, first.author) == ("運用チーム", "planned", "主任 佐藤")
    later = NOW + timedelta(days=3)
    changed = store.update(first.id, at=later, status="done", title="昼休みの体制を二名に")
    assert (changed.status, changed.title, changed.updated_at) == (
        "done",
        "昼休みの体制を二名に",
        later,
    )
    assert changed.created_at == NOW
    assert [a.title for a in store.for_month("2026-10")] == ["先月の施策"]
    with pytest.raises(ValueError, match="status"):
        store.update(first.id, at=later, status="maybe")
    with pytest.raises(ValueError, match="author: not editable"):
        store.update(first.id, at=later, author="someone")
    with pytest.raises(ValueError, match="title: must not be empty"):
        store.add(MONTH, "  ", author="x", at=NOW)
    with pytest.raises(ValueError, match="--month"):
        store.add("2026-13", "t", author="x", at=NOW)
    store.remove(first.id)
    assert store.for_month(MONTH) == []
    with pytest.raises(ActionNotFound):
        store.remove(first.id)
    with pytest.raises(ActionNotFound):
        store.get(first.id)


def test_the_trend_is_the_months_figures(month: Month, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = month.cfg
    rows = build_trend(month.engine, cfg.service, cfg.metrics, IncidentTargets(), "2026-12")
    assert [r.month for r in rows][:2] == ["2026-01", "2026-02"]
    assert len(rows) == 12
    by = {r.month: r for r in rows}
    assert by["2026-11"].calls == query_figures(
        month.engine, cfg.metrics, "2026-11-01", "2026-12-01"
    )
    assert (by["2026-10"].calls.calls, by["2026-12"].calls.calls, by["2026-09"].calls.calls) == (
        1,
        1,
        0,
    )
    assert (by["2026-11"].incidents.incidents, by["2026-10"].incidents.incidents) == (3, 0)
    assert main(["report", "trend", "--to", "2026-12", "--json", "--config", str(month.conf)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (nov,) = [m for m in doc["months"] if m["month"] == "2026-11"]
    assert nov["calls"]["abandonment_rate"] == 0.375
    assert nov["incidents"]["figures"]["satisfaction"]["value"] == 90.0
    assert main(["report", "trend", "--to", "2026-12", "--config", str(month.conf)]) == 0
    text = capsys.readouterr().out
    assert "2026-11         10          5    37.5%" in text
