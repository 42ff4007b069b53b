"""The monthly report: the month's call and incident figures, with targets, the same in
JSON, CSV and HTML, in Japanese and English; from a real SQLite file and the command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from callcenter.config import Config
from callcenter.incidents.figures import IncidentTargets
from callcenter.incidents.model import SurveyResponse
from callcenter.incidents.store import IncidentStore
from callcenter.reports.monthly import build, month_bounds, render_csv, render_html, rows
from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, Outcome

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)


def call(n: int, outcome: Outcome, *, busy: bool = False, month: int = 11) -> CallRecord:
    t = datetime(2026, month, 10, 10, 0, tzinfo=TZ).timestamp() + n * 600
    rec = CallRecord(server_id="lab", linkedid=f"L{month}-{n}", arrived_at=t,
                     caller_num=f"03{n:08d}", queue="support", queued_at=t + 2,
                     ended_at=t + 200)  # fmt: skip
    if busy:
        rec.busy_at = t + 1
    if outcome is Outcome.ANSWERED:
        rec.answered_at = t + 12  # waited 10 s after joining: inside the 20 s level
        rec.agent = "Agent One"
        rec.agent_interface = "PJSIP/agent1"
    rec.outcome = outcome
    return rec


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Engine, Config]:
    cfg = Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"), base_dir=tmp_path)
    engine = make_engine(cfg.database_url())
    migrate(engine)
    # November: 8 answered (1 after the busy message), 2 abandoned, 1 after hours;
    # one call of December that must not count.
    calls = [call(n, Outcome.ANSWERED, busy=(n == 0)) for n in range(8)]
    calls += [call(8, Outcome.ABANDONED), call(9, Outcome.ABANDONED)]
    calls += [call(10, Outcome.AFTER_HOURS), call(0, Outcome.ABANDONED, month=12)]
    write_calls(engine, [call_row(c, TZ) for c in calls])
    store = IncidentStore(engine)
    # Two incidents: one resolved on the first line in 20 business minutes, one open.
    one, _ = store.open_for_call(calls[0], agent_id="agent1",
                                 at=datetime.fromtimestamp(calls[0].arrived_at + 13, UTC),
                                 repeat_window=timedelta(0))  # fmt: skip
    assert one.id is not None
    store.change(one.id, "resolve", "agent1", one.received_at + timedelta(minutes=20))
    store.open_for_call(calls[1], agent_id="agent1",
                        at=datetime.fromtimestamp(calls[1].arrived_at + 13, UTC),
                        repeat_window=timedelta(0))  # fmt: skip
    store.add_survey(
        SurveyResponse("03000000", one.id, (5, 4), one.received_at + timedelta(hours=1)), "phone"
    )
    return engine, cfg


def test_the_months_figures_with_targets(setup: tuple[Engine, Config]) -> None:
    engine, cfg = setup
    report = build(engine, cfg.service, cfg.metrics, "2026-11", IncidentTargets(), NOW)
    d = report.to_dict()
    calls = d["calls"]
    # 11 calls; rates over 10 (after hours apart): abandonment 2/10, busy 1/10.
    assert (calls["calls"], calls["total_incoming"], calls["answered"]) == (11, 10, 8)
    assert (calls["abandonment_rate"], calls["busy_rate"]) == (0.2, 0.1)
    assert calls["targets"]["abandonment_rate"] == {"target": 0.1, "met": False}
    assert calls["targets"]["busy_rate"] == {"target": 0.05, "met": False}
    assert d["calls_by_queue"]["support"]["calls"] == 11
    inc = d["incidents"]
    assert (inc["received"], inc["unresolved"]) == (2, 1)
    # FCR: 1 resolved without escalation of 2 taken; handling 20 min (≤ 30: met);
    # satisfaction (100 + 80) / 2 = 90 (≥ 75: met).
    assert inc["figures"]["first_contact_resolution"]["value"] == 0.5
    assert inc["figures"]["first_contact_resolution"]["met"] is False
    assert inc["figures"]["handling_seconds"]["value"] == 1200
    assert inc["figures"]["handling_seconds"]["met"] is True
    assert inc["figures"]["satisfaction"]["value"] == 90
    assert inc["figures"]["escalation_seconds"]["met"] is None  # nothing escalated


def test_the_formats_say_the_same_in_both_languages(setup: tuple[Engine, Config]) -> None:
    engine, cfg = setup
    report = build(engine, cfg.service, cfg.metrics, "2026-11", IncidentTargets(), NOW)
    ja = rows(report, "ja")
    en = rows(report, "en")
    assert [(r[0], r[1], r[3], r[4]) for r in ja] == [(r[0], r[1], r[3], r[4]) for r in en]
    by_key = {(r[0], r[1]): r for r in ja}
    assert by_key[("calls", "abandonment_rate")][2:] == ("放棄率", "20.0%", "< 10.0%", "未達")
    assert by_key[("incidents", "handling_seconds")][2:] == (
        "サービスデスク対応時間", "20.0 min", "≤ 30.0 min", "達成",
    )  # fmt: skip
    assert by_key[("incidents", "escalation_seconds")][5] == "対象なし"
    table = list(csv.reader(io.StringIO(render_csv(report, "en"))))
    assert table[0] == ["month", "section", "key", "Figure", "Result", "Target", "Met"]
    assert ["2026-11", "incidents", "satisfaction", "Customer satisfaction", "90.0",
            "≥ 75.0", "met"] in table  # fmt: skip
    page = render_html(report, "ja")
    assert page.startswith('<!doctype html><html lang="ja">')
    assert "月次運用報告書 2026-11" in page
    assert "受付インシデント: 2（うち未解決: 1）" in page
    assert '<tr class="miss"><td>放棄率</td><td>20.0%</td>' in page
    assert "Monthly operations report 2026-11" in render_html(report, "en")


def test_a_queue_name_is_escaped_in_the_page(setup: tuple[Engine, Config]) -> None:
    engine, cfg = setup
    report = build(engine, cfg.service, cfg.metrics, "2026-11", IncidentTargets(), NOW)
    report.calls_by_queue["<script>"] = report.calls
    page = render_html(report, "en")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_the_command(setup: tuple[Engine, Config], tmp_path: Path) -> None:
    _, cfg = setup
    conf = tmp_path / "cc.toml"
    conf.write_text(f'[database]\nurl = "{cfg.database.url}"\n', encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "callcenter", "report", "monthly", *args, "--config", str(conf)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    res = run("--month", "2026-11", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["calls"]["calls"] == 11
    out = tmp_path / "report.html"
    res = run("--month", "2026-11", "--out", str(out))
    assert (res.returncode, res.stdout.strip()) == (0, f"wrote {out}")
    assert "月次運用報告書" in out.read_text(encoding="utf-8")
    res = run("--month", "2026-13")
    assert (res.returncode, res.stderr.strip()) == (
        2,
        "callcenter report: --month: '2026-13' is not YYYY-MM",
    )
    res = run("--month", "2026-11", "--out", str(tmp_path / "no" / "such" / "dir.html"))
    assert res.returncode == 2
    assert "No such file or directory" in res.stderr


@pytest.mark.parametrize("month", ["0001-01", "9999-12", "2026-13", "x"])
def test_a_month_out_of_range_is_a_clear_error_not_a_traceback(month: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--month"):
        month_bounds(month)
    env = {**os.environ, "CALLCENTER_CONFIG": ""}
    for args in (["report", "monthly"], ["incidents", "figures"]):
        res = subprocess.run(
            [sys.executable, "-m", "callcenter", *args, "--month", month],
            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr
        assert "--month" in res.stderr
