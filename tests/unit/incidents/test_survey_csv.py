"""Surveys from a form's CSV export: Japanese or English headers, words or digits,
every bad cell named by row and column, and nothing imported from a bad file."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.incidents.figures import satisfaction_score
from callcenter.incidents.survey_csv import SurveyCSVError, parse_surveys

TZ = ZoneInfo("Asia/Tokyo")

GOOGLE_JA = """\ufeffタイムスタンプ,メールアドレス,対応の速さ,説明の分かりやすさ,インシデント番号
2026/11/20 10:15:00,a@example.go.jp,満足,ほぼ満足,
2026/11/20 11:00:00,b@example.go.jp,不満,,7
2026/11/21 09:00:00,c@example.go.jp,,,
"""


def test_a_japanese_form_export() -> None:
    got = parse_surveys(GOOGLE_JA, TZ)
    assert [(r.respondent, r.incident_id, r.answers, r.at) for r in got] == [
        ("a@example.go.jp", None, (5, 4), datetime(2026, 11, 20, 10, 15, tzinfo=TZ)),
        ("b@example.go.jp", 7, (1,), datetime(2026, 11, 20, 11, 0, tzinfo=TZ)),
        # c answered nothing: not a respondent
    ]
    # a: (100 + 80) / 2 = 90; b: 0.
    assert [satisfaction_score(r.answers) for r in got] == [90.0, 0.0]


def test_digits_iso_times_and_rows_without_a_respondent() -> None:
    text = "at,q1,q2\n2026-11-20T10:15:00+09:00,5,3\n2026-11-20 10:16,2,\n"
    got = parse_surveys(text, TZ)
    assert [(r.respondent, r.answers) for r in got] == [
        ("form-row-2", (5, 3)),
        ("form-row-3", (2,)),
    ]
    assert got[1].at == datetime(2026, 11, 20, 10, 16, tzinfo=TZ)


def test_every_bad_cell_is_named() -> None:
    text = "timestamp,respondent,incident,Q1\nyesterday,x,1,5\n2026-11-20 10:00,y,seven,great\n"
    with pytest.raises(SurveyCSVError) as err:
        parse_surveys(text, TZ)
    assert err.value.problems == [
        "row 2, column 'timestamp': 'yesterday' is not a time "
        "(YYYY-MM-DD HH:MM or YYYY/MM/DD HH:MM)",
        "row 3, column 'Q1': 'great' is not 1-5 or 満足/ほぼ満足/普通/やや不満/不満",
        "row 3, column 'incident': 'seven' is not a number",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the file is empty"),
        ("respondent,q1\nx,5\n", "no time column (at, timestamp, タイムスタンプ or 回答日時)"),
        ("at,respondent\n2026-11-20 10:00,x\n", "no question columns"),
    ],
)
def test_a_file_that_is_not_a_survey(text: str, problem: str) -> None:
    with pytest.raises(SurveyCSVError) as err:
        parse_surveys(text, TZ)
    assert err.value.problems == [problem]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "cc.toml"
    conf.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "cc.db"}"\n', encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "incidents", *args, "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_imports_once_and_reports_the_month(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(GOOGLE_JA.replace(",7\n", ",\n"), encoding="utf-8")
    res = cli(tmp_path, "import-surveys", str(good))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"{good}: 2 survey(s) imported, 0 already there"
    res = cli(tmp_path, "import-surveys", str(good))
    assert res.stdout.strip() == f"{good}: 0 survey(s) imported, 2 already there"

    bad = tmp_path / "bad.csv"
    bad.write_text("at,q1\n2026-11-20 10:00,5\n2026-11-20 11:00,6\n", encoding="utf-8")
    res = cli(tmp_path, "import-surveys", str(bad))
    assert res.returncode == 2
    assert "nothing imported, 1 problem(s)" in res.stderr
    assert "row 3, column 'q1': '6' is not 1-5" in res.stderr

    res = cli(tmp_path, "figures", "--month", "2026-11", "--json")
    assert res.returncode == 0, res.stderr
    import json

    data = json.loads(res.stdout)
    # The bad file added nothing: a = 90, b = 0 -> 45 over 2 respondents.
    assert data["figures"]["satisfaction"] == {
        "value": 45.0,
        "count": 2,
        "target": 75.0,
        "met": False,
    }
    assert data["incidents"] == 0
    assert data["figures"]["first_contact_resolution"]["met"] is None
    res = cli(tmp_path, "figures", "--month", "2026-13")
    assert (res.returncode, res.stderr.strip()) == (2, "--month: '2026-13' is not YYYY-MM")
