"""The monthly report and the trend on PostgreSQL say what they say on SQLite (the
grouped scan, the waiting-time buckets and the improvement actions are new SQL)."""

from __future__ import annotations

from pathlib import Path

from callcenter.config import Config
from callcenter.incidents.figures import IncidentTargets
from callcenter.reports.monthly import build, render
from callcenter.reports.trend import build_trend, trend_dict
from callcenter.store.db import make_engine, migrate
from tests.support.postgres import migrated_postgres
from tests.unit.reports.conftest import MONTH, NOW, fill


def test_the_report_is_the_same_on_postgresql(tmp_path: Path) -> None:
    cfg = Config()
    lite = make_engine(f"sqlite:///{tmp_path / 'cc.db'}")
    migrate(lite)
    fill(lite)
    with migrated_postgres() as pg:
        fill(pg)
        docs = [
            build(e, cfg.service, cfg.metrics, MONTH, IncidentTargets(), NOW).to_dict()
            for e in (lite, pg)
        ]
        trends = [
            trend_dict(build_trend(e, cfg.service, cfg.metrics, IncidentTargets(), "2026-12"))
            for e in (lite, pg)
        ]
        report = build(pg, cfg.service, cfg.metrics, MONTH, IncidentTargets(), NOW)
        assert render(report, "xlsx", "en")[:2] == b"PK"
    for doc in docs:
        for action in doc["improvement_actions"]:
            del action["id"]  # the databases number them alike, but need not
    assert docs[0] == docs[1]
    assert trends[0] == trends[1]
    assert docs[1]["calls"]["calls"] == 10
