"""The monthly report over the month worked out by hand in conftest.py: the figures, the
sections, the formats in both languages, and the command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.incidents.figures import IncidentTargets
from callcenter.reports.layout import sections
from callcenter.reports.model import Section, SectionProvider, Table
from callcenter.reports.monthly import build, month_bounds, render
from tests.unit.reports.conftest import MONTH, NOW, Month


def _build(m: Month, **kw: object) -> object:
    return build(m.engine, m.cfg.service, m.cfg.metrics, MONTH, IncidentTargets(), NOW, **kw)  # type: ignore[arg-type]


def test_the_months_figures_by_hand(month: Month) -> None:
    report = build(month.engine, month.cfg.service, month.cfg.metrics, MONTH,
                   IncidentTargets(), NOW)  # fmt: skip
    d = report.to_dict()
    c = d["calls"]
    assert (c["calls"], c["total_incoming"], c["answered"], c["abandoned"], c["busy"]) == (
        10, 8, 5, 3, 1,
    )  # fmt: skip
    assert report.calls.answer_rate == 0.625
    assert (c["abandonment_rate"], c["busy_rate"], c["service_level"]) == (0.375, 0.125, 0.375)
    assert (c["asa_seconds"], c["aht_seconds"], c["max_wait_seconds"]) == (27.0, 288.0, 130.0)
    assert c["targets"]["service_level"] == {"target": 0.8, "met": False}
    day = d["calls_by_day"]
    assert list(day) == ["2026-11-10", "2026-11-11"]
    assert (day["2026-11-10"]["calls"], day["2026-11-10"]["total_incoming"]) == (6, 5)
    assert (day["2026-11-10"]["asa_seconds"], day["2026-11-10"]["aht_seconds"]) == (26.25, 330.0)
    assert (day["2026-11-11"]["abandoned"], day["2026-11-11"]["service_level"]) == (2, 0.0)
    assert {h: f["calls"] for h, f in d["calls_by_hour"].items()} == {
        "10": 4, "11": 2, "14": 3, "20": 1,
    }  # fmt: skip
    assert {q: f["calls"] for q, f in d["calls_by_queue"].items()} == {
        "billing": 2, "support": 6, "(none)": 2,
    }  # fmt: skip
    buckets = {(b["from_seconds"], b["to_seconds"]): b["calls"] for b in d["abandoned_by_wait"]}
    assert buckets == {(0.0, 10): 1, (10, 20): 0, (20, 30): 0, (30, 60): 1, (60, 120): 0,
                       (120, 300): 1, (300, None): 0}  # fmt: skip
    inc = d["incidents"]
    assert (inc["received"], inc["unresolved"]) == (3, 1)
    f = inc["figures"]
    assert f["first_contact_resolution"]["value"] == pytest.approx(1 / 3)
    assert f["handling_seconds"]["value"] == 1350.0
    assert (f["escalation_seconds"]["value"], f["escalation_seconds"]["met"]) == (900.0, False)
    assert (f["progress_seconds"]["value"], f["progress_seconds"]["met"]) == (2400.0, False)
    assert f["satisfaction"]["value"] == 90.0
    assert inc["by_category"]["ネットワーク"]["resolved"] == 1
    assert inc["by_category"]["ネットワーク"]["received"] == 1
    assert inc["by_category"]["アカウント"]["resolved"] == 1
    risks = {(r["incident_id"], r["figure"], r["state"]) for r in inc["risks"]}
    assert risks == {(2, "escalation_seconds", "breached"), (2, "progress_seconds", "breached"),
                     (3, "handling_seconds", "breached")}  # fmt: skip
    assert [a["title"] for a in d["improvement_actions"]] == ["昼休みの応答体制を見直す"]
    assert d["definitions"]["in_force"]["service_level_seconds"] == 20.0


def test_the_sla_summary_has_margins(month: Month) -> None:
    report = build(month.engine, month.cfg.service, month.cfg.metrics, MONTH,
                   IncidentTargets(), NOW)  # fmt: skip
    (sla,) = sections(report)[0].tables
    page = render(report, "html", "ja").decode()
    # Abandonment 37.5% against < 10%: 27.5 points over; satisfaction 90 against 75: +15.
    assert "<td>放棄率</td>" in page
    assert "37.5%" in page
    assert "10.0%未満" in page
    assert "−27.5ポイント" in page
    assert "+15.0点" in page
    en = render(report, "html", "en").decode()
    assert "&lt; 10.0%" in en
    assert "−27.5 pt" in en
    assert "≤ 30.0 min" in en
    assert len(sla.rows) == 8
    assert sum(sla.missed) == 6


def test_every_format_in_both_languages(month: Month) -> None:
    report = build(month.engine, month.cfg.service, month.cfg.metrics, MONTH,
                   IncidentTargets(), NOW)  # fmt: skip
    ja = render(report, "html", "ja").decode()
    assert ja.startswith('<!doctype html><html lang="ja">')
    assert "月次運用報告書 2026年11月" in ja
    assert "作成日時: 2026年12月1日 09:00" in ja
    assert "受付 3件（うち未解決 1件）" in ja
    assert "27.0秒" in ja
    assert "4.8分" in ja
    assert ja.count("<svg") == 6  # three daily rates, by hour, abandoned waits, incident times
    assert "<script" not in ja
    assert "Monthly operations report 2026-11" in render(report, "html", "en").decode()
    data = render(report, "csv", "ja")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == ["月次運用報告書", "2026-11", "Asia/Tokyo"]
    head = table.index(["日付", "入電数（件）", "応答数（件）", "放棄数（件）", "応答率（比率）",
                        "放棄率（比率）", "ビジー率（比率）", "サービスレベル（比率）",
                        "平均応答時間（ASA）（秒）", "平均処理時間（AHT）（秒）"])  # fmt: skip
    assert table[head + 1] == ["2026-11-10", "6", "4", "1", "0.8", "0.2", "0.2", "0.6",
                               "26.25", "330.0"]  # fmt: skip
    assert json.loads(render(report, "json", "en"))["calls"]["calls"] == 10
    assert render(report, "xlsx", "ja")[:2] == b"PK"
    assert render(report, "pdf", "en")[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="format"):
        render(report, "docx", "ja")


def test_a_queue_name_is_escaped_in_the_page(month: Month) -> None:
    report = build(month.engine, month.cfg.service, month.cfg.metrics, MONTH,
                   IncidentTargets(), NOW)  # fmt: skip
    report.calls_by_queue["<script>"] = report.calls
    page = render(report, "html", "en").decode()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_a_section_provider_fills_its_slot_in_every_format(month: Month) -> None:
    seen = []

    def activity(ctx: object) -> Section:
        seen.append(ctx)
        table = Table("agent_activity", ("稼働状況", "Agent activity"), (), ())
        return Section("agent_activity", ("エージェント稼働", "Agent activity"), (table,))

    report = build(month.engine, month.cfg.service, month.cfg.metrics, MONTH,
                   IncidentTargets(), NOW,
                   providers=[SectionProvider("agent_activity", activity),
                              SectionProvider("followups", lambda ctx: None)])  # fmt: skip
    (ctx,) = seen
    assert (ctx.month, ctx.day_from, ctx.day_to) == ("2026-11", "2026-11-01", "2026-12-01")  # type: ignore[attr-defined]
    keys = [s.key for s in sections(report)]
    assert keys == ["sla", "by_day", "by_hour", "by_queue", "agent_activity", "abandoned",
                    "incidents", "actions", "record"]  # fmt: skip
    assert "エージェント稼働" in render(report, "html", "ja").decode()
    assert "agent_activity" in report.to_dict()["sections"]
    with pytest.raises(ValueError, match="slot"):
        SectionProvider("nope", activity)  # type: ignore[arg-type]


def test_the_command(month: Month, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "callcenter", "report", *args, "--config", str(month.conf)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    res = run("monthly", "--month", "2026-11", "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["calls"]["calls"] == 10
    out = tmp_path / "report.html"
    res = run("monthly", "--month", "2026-11", "--out", str(out))
    assert (res.returncode, res.stdout.strip()) == (0, f"wrote {out}")
    assert "月次運用報告書" in out.read_text(encoding="utf-8")
    xlsx = tmp_path / "r.xlsx"
    res = run(
        "monthly", "--month", "2026-11", "--format", "xlsx", "--lang", "en", "--out", str(xlsx)
    )
    assert res.returncode == 0, res.stderr
    assert xlsx.read_bytes()[:2] == b"PK"
    res = run("monthly", "--month", "2026-11", "--format", "pdf")
    assert (res.returncode, res.stderr.strip()) == (
        2, "callcenter report: --format pdf needs --out FILE",
    )  # fmt: skip
    res = run("monthly", "--month", "2026-13")
    assert (res.returncode, res.stderr.strip()) == (
        2,
        "callcenter report: --month: '2026-13' is not YYYY-MM",
    )
    res = run("monthly", "--month", "2026-11", "--out", str(tmp_path / "no" / "such" / "x.html"))
    assert res.returncode == 2
    assert "No such file or directory" in res.stderr
    res = run("trend", "--to", "2026-13")
    assert (res.returncode, res.stderr.strip()) == (
        2, "callcenter report: --to: '2026-13' is not YYYY-MM",
    )  # fmt: skip


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
