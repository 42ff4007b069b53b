"""The report's files read back as their readers see them: the xlsx through openpyxl,
every figure against `callcenter metrics --json` and `callcenter incidents figures
--json` for the same month; the PDF through pdftotext (and one page drawn with pdftoppm
into docs/screenshots/)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from callcenter.cli import main
from callcenter.incidents.figures import IncidentTargets
from callcenter.reports.monthly import build, render
from callcenter.reports.sections.calls import TABLE_COLUMNS
from tests.unit.reports.conftest import MONTH, NOW, Month

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def _table(wb: Any, key: str) -> list[list[Any]]:
    """The cells of the defined name t_<key>: the header row first."""
    ((sheet, ref),) = wb.defined_names[f"t_{key}"].destinations
    return [[c.value for c in row] for row in wb[sheet][ref.replace("$", "")]]


@pytest.fixture
def report_bytes(month: Month) -> dict[str, bytes]:
    report = build(month.engine, month.cfg.service, month.cfg.metrics, MONTH,
                   IncidentTargets(), NOW)  # fmt: skip
    return {
        "xlsx": render(report, "xlsx", "ja"),
        "pdf-ja": render(report, "pdf", "ja"),
        "pdf-en": render(report, "pdf", "en"),
    }


def test_every_figure_in_the_xlsx_is_the_commands(
    month: Month, report_bytes: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    conf = ("--config", str(month.conf))
    period = ("--from", "2026-11-01", "--to", "2026-12-01")
    total = _json(capsys, "metrics", *period, "--json", *conf)
    incidents = _json(capsys, "incidents", "figures", "--month", MONTH, "--json", *conf)
    wb = openpyxl.load_workbook(io.BytesIO(report_bytes["xlsx"]))
    checked = 0
    for by, key in (("day", "by_day"), ("hour", "by_hour"), ("queue", "by_queue")):
        groups = _json(capsys, "metrics", *period, "--by", by, "--json", *conf)["groups"]
        head, *rows, total_row = _table(wb, key)
        assert len(head) == 1 + len(TABLE_COLUMNS)
        assert sorted(r[0] for r in rows) == sorted(groups)
        for row in [*rows, ["total", *total_row[1:]]]:
            want = total if row[0] == "total" else groups[row[0]]
            for name, got in zip(TABLE_COLUMNS, row[1:], strict=True):
                if name == "answer_rate":  # answered / total_incoming (docs/metrics.md)
                    n = want["total_incoming"]
                    expected = want["answered"] / n if n else 0.0
                else:
                    expected = want[name]
                # Excel keeps 15 significant digits (XlsxWriter writes %.16G): equal to that.
                if isinstance(expected, float):
                    expected = pytest.approx(expected, rel=1e-14, abs=0)
                assert got == expected, (key, row[0], name)
                checked += 1
    head, *sla = _table(wb, "sla")
    assert head == ["項目", "実績", "目標", "達成", "余裕（＋）／超過（－）", "対象件数"]
    by_label = {r[0]: r for r in sla}
    for label, name in (("放棄率", "abandonment_rate"), ("ビジー率", "busy_rate"),
                        ("サービスレベル", "service_level")):  # fmt: skip
        _, value, _target, met, margin, over = by_label[label]
        assert value == total[name]
        assert met == ("達成" if total["targets"][name]["met"] else "未達")
        assert over == total["total_incoming"]
        t = total["targets"][name]["target"]
        assert margin == pytest.approx(value - t if name == "service_level" else t - value)
        checked += 3
    assert by_label["放棄率"][2] == "10.0%未満"
    labels = {"first_contact_resolution": "初期サポート解決率",
              "handling_seconds": "サービスデスク対応時間",
              "escalation_seconds": "二次サポートエスカレーション時間",
              "progress_seconds": "経過報告時間", "satisfaction": "顧客満足度"}  # fmt: skip
    _, *figs = _table(wb, "incident_figures")
    fig_rows = {r[0]: r for r in figs}
    for name, fig in incidents["figures"].items():
        _, value, over, _target, met = fig_rows[labels[name]]
        assert (value, over) == (fig["value"], fig["count"]), name
        assert met == {True: "達成", False: "未達", None: "対象なし"}[fig["met"]]
        assert by_label[labels[name]][1] == fig["value"]
        checked += 3
    _, *_cats, cat_total = _table(wb, "incidents_by_category")
    assert cat_total[-1] == incidents["incidents"] == 3
    _, *buckets, bucket_total = _table(wb, "abandoned_by_wait")
    assert bucket_total[1] == total["abandoned"] == 3
    assert [b[1] for b in buckets] == [1, 0, 0, 1, 0, 1, 0]
    # (2 days + 4 hours + 3 queues + 3 totals) x 9 columns, 3 call rates x 3, 5 incident x 3.
    assert checked == 12 * 9 + 9 + 15
    # Native charts: three daily rates with target lines, by hour, waits, incident times.
    names = zipfile.ZipFile(io.BytesIO(report_bytes["xlsx"])).namelist()
    assert len([n for n in names if n.startswith("xl/charts/chart")]) == 6
    (actions,) = [r for r in _table(wb, "improvement_actions")[1:]]
    assert actions[:4] == ["昼休みの応答体制を見直す",
                           "12時台の放棄率が高い。交代で休憩を取り、2名を常駐させる。",
                           "運用チーム", "計画"]  # fmt: skip


def _pdftotext(data: bytes, tmp_path: Path) -> str:
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout  # fmt: skip


def test_the_pdf_says_the_figures_with_the_japanese_font_embedded(
    report_bytes: dict[str, bytes], tmp_path: Path
) -> None:
    text = _pdftotext(report_bytes["pdf-ja"], tmp_path)
    phrases = ("月次運用報告書 2026年11月", "SLA サマリー", "放棄率", "37.5%", "10.0%未満",
               "−27.5ポイント", "27.0秒", "4.8分", "22.5分", "90.0点", "昼休みの応答体制",
               "2026-11-10", "62.5%", "待ち時間別の放棄呼",
               "目標超過・超過間近のインシデント")  # fmt: skip
    for phrase in phrases:
        assert phrase in text, phrase
    fonts = subprocess.run(["pdffonts", str(tmp_path / "r.pdf")], capture_output=True,
                           text=True, check=True, timeout=60).stdout  # fmt: skip
    cjk = [line for line in fonts.splitlines() if "CJK-JP" in line]
    assert cjk
    assert all(line.split()[-5] == "yes" for line in cjk)  # emb
    info = subprocess.run(["pdfinfo", str(tmp_path / "r.pdf")], capture_output=True, text=True,
                          check=True, timeout=60).stdout  # fmt: skip
    assert "(A4)" in info
    en = _pdftotext(report_bytes["pdf-en"], tmp_path)
    for phrase in ("Monthly operations report 2026-11", "Abandonment rate", "< 10.0%",
                   "−27.5 pt", "27.0 s", "4.8 min"):  # fmt: skip
        assert phrase in en, phrase


def test_the_first_page_drawn_for_the_docs(report_bytes: dict[str, bytes], tmp_path: Path) -> None:
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(report_bytes["pdf-ja"])
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(tmp_path / "page")], check=True, timeout=60)  # fmt: skip
    png = (tmp_path / "page.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000  # text and tables drawn, not a blank page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "page.png", SCREENSHOTS / "report-monthly-ja.png")
